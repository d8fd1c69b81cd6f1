// The dashboard's browser entry, bundled by esbuild (scripts/build.mjs) into
// dist/dashboard/assets/app.js and app.css.
import "uplot/dist/uPlot.min.css";
import "./styles/app.css";
import { render } from "preact";
import { App } from "./app.js";
import { html } from "./html.js";

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(html`<${App} />`, root);
}
