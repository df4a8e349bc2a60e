// Child process for threads.test.ts: prints how the backend configured itself from the env.
import { blasInfo, getThreads, backendName } from "../../src/backend/index.js";

const i = blasInfo();
console.log(JSON.stringify({ active: i.active, threads: getThreads(), backend: backendName() }));
