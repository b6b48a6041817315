import type { ArchFamily, ModuleRule, NormRule } from './types';

export interface RuleMatch<R> {
  rule: R;
  bid: number | undefined;
  xid: number | undefined;
}

interface Compiled<R> {
  re: RegExp;
  rule: R;
  /** Which capture group holds {bid} / {xid}. */
  bidGroup: number;
  xidGroup: number;
}

function compile<R extends { hf: string | string[] }>(rules: readonly R[]): Compiled<R>[] {
  const out: Compiled<R>[] = [];
  for (const rule of rules) {
    for (const pattern of Array.isArray(rule.hf) ? rule.hf : [rule.hf]) {
      let group = 0;
      let bidGroup = 0;
      let xidGroup = 0;
      const src = pattern.replace(/\{(bid|xid)\}|[.*+?^${}()|[\]\\]/g, (m, ph?: string) => {
        if (ph === 'bid') {
          bidGroup = ++group;
          return '(\\d+)';
        }
        if (ph === 'xid') {
          xidGroup = ++group;
          return '(\\d+)';
        }
        return `\\${m}`;
      });
      out.push({ re: new RegExp(`^${src}$`), rule, bidGroup, xidGroup });
    }
  }
  return out;
}

const moduleCache = new WeakMap<ArchFamily, Compiled<ModuleRule>[]>();
const normCache = new WeakMap<ArchFamily, Compiled<NormRule>[]>();

function find<R>(compiled: Compiled<R>[], path: string): RuleMatch<R> | undefined {
  for (const c of compiled) {
    const m = c.re.exec(path);
    if (m) {
      return {
        rule: c.rule,
        bid: c.bidGroup ? Number(m[c.bidGroup]) : undefined,
        xid: c.xidGroup ? Number(m[c.xidGroup]) : undefined,
      };
    }
  }
  return undefined;
}

/** The module rule for an HF module path (prefix stripped, no `.weight`). */
export function matchModule(family: ArchFamily, path: string): RuleMatch<ModuleRule> | undefined {
  let compiled = moduleCache.get(family);
  if (!compiled) moduleCache.set(family, (compiled = compile(family.modules)));
  return find(compiled, path);
}

/** The norm rule for an HF module path of a 1-D `.weight` vector. */
export function matchNorm(family: ArchFamily, path: string): RuleMatch<NormRule> | undefined {
  let compiled = normCache.get(family);
  if (!compiled) normCache.set(family, (compiled = compile(family.norms ?? [])));
  return find(compiled, path);
}

/** Fill `{bid}` / `{xid}` in a GGUF name template. */
export function fillName(template: string, bid: number | undefined, xid?: number): string {
  return template.replace('{bid}', String(bid ?? '')).replace('{xid}', String(xid ?? ''));
}
