import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { HttpError } from "./http.js";

// The browser UI's built files (dist/dashboard/assets/, built from src/dashboard/ui/), served
// as they are; only index.html is touched, its <base href> set to where the dashboard is
// mounted.

/** The folder of the built UI: beside this module in dist/dashboard/, or dist/dashboard/assets/ from src/dashboard/ (tsx). */
export function assetsFolder(): URL {
  const here = fileURLToPath(import.meta.url).replaceAll("\\", "/");
  return /\/dist\/dashboard\/[^/]+$/.test(here)
    ? new URL("./assets/", import.meta.url)
    : new URL("../../dist/dashboard/assets/", import.meta.url);
}

const contentTypes: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  woff: "font/woff",
  woff2: "font/woff2",
  txt: "text/plain; charset=utf-8",
};

/** Names an asset may have: no slash, no traversal, nothing hidden. */
const assetName = /^[\w.-]+$/;

export async function serveAsset(folder: URL, name: string): Promise<Response> {
  if (!assetName.test(name) || name.startsWith(".")) throw new HttpError(404, "no such asset");
  const extension = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  const type = contentTypes[extension] ?? "application/octet-stream";
  const body = await readAsset(folder, name);
  if (body === undefined) throw new HttpError(404, "no such asset");
  const cache = name === "index.html" ? "no-cache" : "public, max-age=300";
  return new Response(new Uint8Array(body), { headers: { "content-type": type, "cache-control": cache } });
}

/** index.html, its `<base href="/">` pointing at basePath + "/". */
export async function serveIndex(folder: URL, basePath: string): Promise<Response> {
  const body = await readAsset(folder, "index.html");
  if (body === undefined) {
    throw new HttpError(404, "the dashboard's UI is not built (dist/dashboard/assets/index.html is missing)");
  }
  let html = body.toString("utf8");
  if (basePath !== "") {
    html = html.replace(/<base\s+href=(["'])\/\1\s*(\/?)>/i, (_, _quote, slash: string) =>
      slash ? `<base href="${escapeAttribute(`${basePath}/`)}" />` : `<base href="${escapeAttribute(`${basePath}/`)}">`,
    );
  }
  return new Response(html, { headers: { "content-type": contentTypes.html as string, "cache-control": "no-cache" } });
}

async function readAsset(folder: URL, name: string): Promise<Buffer | undefined> {
  try {
    return await readFile(new URL(name, folder));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

function escapeAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
