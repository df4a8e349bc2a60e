/**
 * SVG → PNG with resvg (a Rust SVG renderer shipped as a prebuilt binary in its npm package)
 * and the DejaVu Sans font from the `dejavu-fonts-ttf` npm package, so text renders the same on
 * every machine without system fonts.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ChimeraError } from "../errors.js";

const require = createRequire(import.meta.url);

export function svgToPng(svg: string): Uint8Array {
  let Resvg: typeof import("@resvg/resvg-js").Resvg;
  try {
    Resvg = (require("@resvg/resvg-js") as typeof import("@resvg/resvg-js")).Resvg;
  } catch (e) {
    throw new ChimeraError(`PNG output needs @resvg/resvg-js (npm ci installs it): ${(e as Error).message}`);
  }
  const fontDir = join(dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf");
  const r = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: [join(fontDir, "DejaVuSans.ttf"), join(fontDir, "DejaVuSans-Bold.ttf")], defaultFontFamily: "DejaVu Sans" },
  });
  return r.render().asPng();
}
