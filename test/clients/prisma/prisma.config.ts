// Prisma Migrate offline (Prisma 6.19.3, driver-adapter mode: the WASM schema engine and
// @prisma/adapter-pg, all from npm; the CLI never downloads an engine).
// Copied from the project's shared reference, shared/reference/prisma-offline/prisma.config.ts
// (its README says why each workaround is needed); adapted: this header only.
// test/clients/t/prisma.pl copies it into each test project beside prisma/schema.prisma.
import path from "node:path";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

// Workaround 1 (prisma/orm#27403): @prisma/adapter-pg cannot map Postgres'
// internal `name` (oid 19) / `"char"` (oid 18) types that the schema engine's
// catalog queries return -> "Column type 'name' could not be deserialized".
// Rewrite them to text (25) / text[] (1009) before the adapter sees them.
const REMAP: Record<number, number> = { 18: 25, 19: 25, 24: 25, 2205: 25, 194: 25, 1002: 1009, 1003: 1009 };
const orig = (pg as any).Query.prototype.handleRowDescription;
(pg as any).Query.prototype.handleRowDescription = function (msg: any) {
  for (const f of msg.fields) if (REMAP[f.dataTypeID]) f.dataTypeID = REMAP[f.dataTypeID];
  return orig.call(this, msg);
};

// Workaround 2: adapter-pg's executeScript does script.split(";") (breaks
// $$-bodies / ';' in literals, and runs each statement in autocommit). Send
// the whole migration file as ONE simple-protocol query instead, which is what
// the native schema engine does. PRISMA_SPLIT_SCRIPT=1 keeps the split mode.
function wholeScript<T extends object>(a: T): T {
  if (process.env.PRISMA_SPLIT_SCRIPT) return a;
  (a as any).executeScript = async (script: string) => {
    try { await (a as any).client.query(script); } catch (e) { (a as any).onError(e); }
  };
  return a;
}

function pgConfig(database?: string) {
  // Discrete fields, not connectionString (a connectionString would override
  // `database`, so a shadow pool would silently hit the real DB).
  const u = new URL(process.env.DATABASE_URL!);
  return {
    host: u.hostname, port: Number(u.port || 5432),
    user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) || undefined,
    database: database ?? u.pathname.slice(1),
  };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    const f: any = new PrismaPg(pgConfig());
    const connect = f.connect.bind(f);
    f.connect = async () => wholeScript(await connect());
    // Workaround 3: adapter-pg's connectToShadowDb drops the shadow DB before
    // closing its pool ("is being accessed by other users"). Own version:
    f.connectToShadowDb = async () => {
      const main = await connect();
      const name = `prisma_migrate_shadow_db_${randomUUID()}`;
      await main.executeScript(`CREATE DATABASE "${name}"`);
      const shadow: any = wholeScript(await new PrismaPg(pgConfig(name)).connect());
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        await dispose();
        await main.executeScript(`DROP DATABASE IF EXISTS "${name}"`);
        await main.dispose();
      };
      return shadow;
    };
    return f;
  },
});
