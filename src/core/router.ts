// Routing by exact path, plus a prefix with one trailing segment (/ready/NAME). No normalisation:
// "/ready/../status", "//ready" and "/ready%00" are simply not routes.

export type Match<H> =
  | { readonly kind: 'found'; readonly handler: H /** The segment after a prefix route's prefix. */; readonly param?: string }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'method_not_allowed'; readonly allow: string };

export interface Router<H> {
  add(method: string, path: string, handler: H): Router<H>;
  /** `prefix` followed by one segment that `segment` accepts (it never holds "/"), e.g. "/ready/" + a check name. */
  addPrefix(method: string, prefix: string, segment: RegExp, handler: H): Router<H>;
  /** Looks up `url` (a request target; its query string is ignored). HEAD falls back to GET. */
  match(method: string, url: string): Match<H>;
}

interface Prefix<H> {
  readonly prefix: string;
  readonly segment: RegExp;
  readonly methods: Map<string, H>;
}

export function createRouter<H>(): Router<H> {
  const routes = new Map<string, Map<string, H>>();
  const prefixes: Prefix<H>[] = [];

  const pick = (methods: Map<string, H>, method: string, param?: string): Match<H> => {
    const handler = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
    if (handler === undefined) {
      const allowed = [...methods.keys()];
      if (methods.has('GET') && !methods.has('HEAD')) allowed.push('HEAD');
      return { kind: 'method_not_allowed', allow: allowed.join(', ') };
    }
    return param === undefined ? { kind: 'found', handler } : { kind: 'found', handler, param };
  };

  const router: Router<H> = {
    add(method, path, handler) {
      const methods = routes.get(path) ?? new Map<string, H>();
      methods.set(method, handler);
      routes.set(path, methods);
      return router;
    },
    addPrefix(method, prefix, segment, handler) {
      let entry = prefixes.find((p) => p.prefix === prefix);
      if (entry === undefined) {
        entry = { prefix, segment, methods: new Map() };
        prefixes.push(entry);
      }
      entry.methods.set(method, handler);
      return router;
    },
    match(method, url) {
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      const methods = routes.get(path);
      if (methods !== undefined) return pick(methods, method);
      for (const { prefix, segment, methods: prefixed } of prefixes) {
        if (!path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length);
        if (!rest.includes('/') && segment.test(rest)) return pick(prefixed, method, rest);
      }
      return { kind: 'not_found' };
    },
  };
  return router;
}
