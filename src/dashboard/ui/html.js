// Tagged templates instead of JSX (no compile step for markup): htm turns html`<p>${text}</p>`
// into Preact elements. Interpolated values become text nodes or attribute values, never
// markup, so user data (payloads, errors, keys) cannot inject HTML.
import htm from "htm";
import { h } from "preact";
export const html = htm.bind(h);
