// A TypeScript client of the service: the types are what openapi-typescript makes of the
// served OpenAPI document (songs.d.ts, written beside this file by tests/test_linters.py),
// the calls openapi-fetch's. `tsc --strict` must accept it, and it then runs against a real
// server, calling every operation of the document once and checking each answer's status.
//
//   node client.js BASE_URL TOKEN

import createClient from "openapi-fetch";
import type { components, paths } from "./songs";

type Song = components["schemas"]["Song"];

const [baseUrl, token] = process.argv.slice(2);
if (baseUrl === undefined || token === undefined) {
  throw new Error("usage: node client.js BASE_URL TOKEN");
}
const client = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${token}` },
});

function expect(what: string, response: Response, status: number): void {
  if (response.status !== status) {
    throw new Error(`${what}: ${response.status}, not ${status}`);
  }
}

function etagOf(response: Response): string {
  const etag = response.headers.get("ETag");
  if (etag === null) throw new Error(`no ETag at ${response.url}`);
  return etag;
}

async function main(): Promise<void> {
  // Operations
  for (const path of ["/healthz", "/livez", "/readyz"] as const) {
    const { data, response } = await client.GET(path);
    expect(`GET ${path}`, response, 200);
    if (data?.status !== "ok") throw new Error(`GET ${path}: ${JSON.stringify(data)}`);
    expect(`HEAD ${path}`, (await client.HEAD(path)).response, 200);
    expect(`OPTIONS ${path}`, (await client.OPTIONS(path)).response, 204);
  }
  const metrics = await client.GET("/metrics", { parseAs: "text" });
  expect("GET /metrics", metrics.response, 200);
  expect("HEAD /metrics", (await client.HEAD("/metrics")).response, 200);
  expect("OPTIONS /metrics", (await client.OPTIONS("/metrics")).response, 204);
  const document = await client.GET("/api/openapi.json");
  expect("GET /api/openapi.json", document.response, 200);
  const again = await client.GET("/api/openapi.json", {
    params: { header: { "If-None-Match": etagOf(document.response) } },
  });
  expect("GET /api/openapi.json, revalidated", again.response, 304);
  expect("HEAD /api/openapi.json", (await client.HEAD("/api/openapi.json")).response, 200);
  expect("OPTIONS /api/openapi.json", (await client.OPTIONS("/api/openapi.json")).response, 204);

  // Songs
  const created = await client.POST("/api/songs", {
    body: { artist: "Gregori Klosman", title: "Jaws", rating: 3 },
    params: { header: { "Idempotency-Key": "typescript-client-1" } },
  });
  expect("POST /api/songs", created.response, 201);
  const song = created.data as Song; // one song in, one song out (a batch gives an array)
  const song_id = song.id;
  const path = { song_id };

  const listed = await client.GET("/api/songs", {
    params: { query: { count: true, limit: 10, min_rating: 1, sort: "-rating" } },
  });
  expect("GET /api/songs", listed.response, 200);
  if (!listed.data?.some((each) => each.id === song_id)) throw new Error("not listed");
  if (listed.response.headers.get("X-Total-Count") === null) throw new Error("no count");
  expect("HEAD /api/songs", (await client.HEAD("/api/songs", { params: { query: { count: false } } })).response, 200);
  expect("OPTIONS /api/songs", (await client.OPTIONS("/api/songs")).response, 204);
  for (const path of ["/api/songs.csv", "/api/songs.ndjson"] as const) {
    const exported = await client.GET(path, { params: { query: { q: "Klosman" } }, parseAs: "text" });
    expect(`GET ${path}`, exported.response, 200);
    if (!exported.data?.includes("Jaws")) throw new Error(`${path} lacks the song`);
    expect(`HEAD ${path}`, (await client.HEAD(path)).response, 200);
    expect(`OPTIONS ${path}`, (await client.OPTIONS(path)).response, 204);
  }

  for (const alias of ["/api/song/{song_id}", "/api/songs/{song_id}"] as const) {
    const read = await client.GET(alias, { params: { path } });
    expect(`GET ${alias}`, read.response, 200);
    if (read.data?.title !== "Jaws") throw new Error(`GET ${alias}: ${JSON.stringify(read.data)}`);
    expect(`HEAD ${alias}`, (await client.HEAD(alias, { params: { path } })).response, 200);
    expect(`OPTIONS ${alias}`, (await client.OPTIONS(alias, { params: { path } })).response, 204);
    const patched = await client.PATCH(alias, {
      params: { path, header: { "If-Match": etagOf(read.response) } },
      body: { rating: 5 },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(`PATCH ${alias}`, patched.response, 200);
    if (patched.data?.rating !== 5) throw new Error(`PATCH ${alias}: ${JSON.stringify(patched.data)}`);
    const replaced = await client.PUT(alias, {
      params: { path, header: { "If-Match": etagOf(patched.response), Prefer: "return=minimal" } },
      body: { artist: "Gregori Klosman", title: "Jaws", rating: 4 },
    });
    expect(`PUT ${alias}`, replaced.response, 204);
  }

  const history = await client.GET("/api/song/{song_id}/history", { params: { path, query: { limit: 10 } } });
  expect("GET /api/song/{song_id}/history", history.response, 200);
  const versions = history.data?.map((each) => each.version) ?? [];
  if (versions.length !== 5) throw new Error(`history: ${JSON.stringify(history.data)}`);
  expect("HEAD /api/song/{song_id}/history", (await client.HEAD("/api/song/{song_id}/history", { params: { path } })).response, 200);
  expect("OPTIONS /api/song/{song_id}/history", (await client.OPTIONS("/api/song/{song_id}/history", { params: { path } })).response, 204);

  const changes = await client.GET("/api/changes", { params: { query: { limit: 100 } } });
  expect("GET /api/changes", changes.response, 200);
  if (!changes.data?.changes.some((change) => change.song?.id === song_id)) throw new Error("no change");
  expect("HEAD /api/changes", (await client.HEAD("/api/changes")).response, 200);
  expect("OPTIONS /api/changes", (await client.OPTIONS("/api/changes")).response, 204);

  const deleted = await client.DELETE("/api/song/{song_id}", { params: { path } });
  expect("DELETE /api/song/{song_id}", deleted.response, 204);
  const gone = await client.GET("/api/songs/deleted", { params: { query: { limit: 10 } } });
  expect("GET /api/songs/deleted", gone.response, 200);
  if (!gone.data?.some((each) => each.song.id === song_id)) throw new Error("not among the deleted");
  expect("HEAD /api/songs/deleted", (await client.HEAD("/api/songs/deleted")).response, 200);
  expect("OPTIONS /api/songs/deleted", (await client.OPTIONS("/api/songs/deleted")).response, 204);
  const restored = await client.POST("/api/song/{song_id}/restore", { params: { path }, body: {} });
  expect("POST /api/song/{song_id}/restore", restored.response, 201);
  if (restored.data?.rating !== 4) throw new Error(`restored: ${JSON.stringify(restored.data)}`);
  expect("OPTIONS /api/song/{song_id}/restore", (await client.OPTIONS("/api/song/{song_id}/restore", { params: { path } })).response, 204);
  const again_deleted = await client.DELETE("/api/songs/{song_id}", { params: { path } });
  expect("DELETE /api/songs/{song_id}", again_deleted.response, 204);

  console.log("every operation answered as expected");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
