// Child process for debug.test.ts: with CHIMERA_CHECK_FINITE=1 in its environment, log(−1) must
// throw naming `log`. Prints the error message (or "no error"). Not a test file itself.
import { tensor } from "../../src/tensor/creation.js";
import { log } from "../../src/ops/index.js";

try {
  log(tensor([-1]));
  console.log("no error");
} catch (e) {
  console.log((e as Error).message);
}
