/**
 * Folder-level cycle check for src/ (run by `make check`): `npx tsx scripts/check-folder-cycles.ts`.
 *
 * dependency-cruiser's no-circular rule (.dependency-cruiser.cjs) finds cycles between modules. This
 * finds them between folders: every module collapses to its folder (src/<folder>), each root file
 * src/<name>.ts is its own node, and the schema layer (every tables.ts) is one node
 * "schema", so the Database type src/db assembles from the features' tables.ts files is not a cycle.
 * Strongly connected components of that graph (Tarjan) with more than one node are cycles; each is
 * listed with one example import per edge. Exit 1 when there is one.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

interface CruiseDependency {
  readonly resolved: string;
  readonly dependencyTypes: readonly string[];
}
interface CruiseModule {
  readonly source: string;
  readonly dependencies: readonly CruiseDependency[];
}

const SCHEMA = 'schema';

/** The node a module belongs to, or null for what is not under src/ (npm packages, node: modules). */
function folderOf(modulePath: string): string | null {
  if (!modulePath.startsWith('src/')) return null;
  if (path.posix.basename(modulePath) === 'tables.ts') return SCHEMA;
  const parts = modulePath.split('/');
  return parts.length === 2 ? modulePath : `src/${parts[1]}`;
}

/** Folder graph: edge from -> to, with the first import seen that makes it. */
function folderGraph(modules: readonly CruiseModule[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const m of modules) {
    const from = folderOf(m.source);
    if (!from) continue;
    if (!graph.has(from)) graph.set(from, new Map());
    for (const d of m.dependencies) {
      const to = folderOf(d.resolved);
      if (!to || to === from) continue;
      const edges = graph.get(from)!;
      if (!edges.has(to)) edges.set(to, `${m.source} -> ${d.resolved}`);
    }
  }
  return graph;
}

/** Tarjan's strongly connected components; only those with two or more nodes, each sorted. */
function cycles(graph: ReadonlyMap<string, ReadonlyMap<string, string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The report for the cycles found: each cycle's folders, then each edge inside it with an example import. */
function report(graph: ReadonlyMap<string, ReadonlyMap<string, string>>, found: readonly string[][]): string {
  const lines: string[] = [];
  for (const [i, component] of found.entries()) {
    lines.push(`cycle ${i + 1} of ${found.length}: ${component.join(', ')}`);
    const members = new Set(component);
    for (const from of component) {
      for (const [to, example] of [...(graph.get(from) ?? new Map<string, string>())].sort()) {
        if (members.has(to)) lines.push(`  ${from} -> ${to}   e.g. ${example}`);
      }
    }
  }
  return lines.join('\n');
}

function cruise(): CruiseModule[] {
  const bin = path.join('node_modules', '.bin', 'depcruise');
  const args = ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'];
  let out: string;
  try {
    out = execFileSync(bin, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (err) {
    // depcruise exits non-zero when a rule is broken; the graph is still on stdout (that run reports the rules).
    const stdout = (err as { stdout?: unknown }).stdout;
    if (typeof stdout !== 'string' || !stdout.startsWith('{')) throw err;
    out = stdout;
  }
  return (JSON.parse(out) as { modules: CruiseModule[] }).modules;
}

function main(): void {
  const graph = folderGraph(cruise());
  const found = cycles(graph);
  if (found.length === 0) {
    console.log(`folder cycles: none (${graph.size} folders and root files of src/, tables.ts files as "${SCHEMA}")`);
    return;
  }
  console.error(`folder cycles: ${found.length} between the folders of src/ (a folder imports one that imports it back):`);
  console.error(report(graph, found));
  process.exitCode = 1;
}

main();
