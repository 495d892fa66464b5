// Exact-path routing. No normalisation: "/ready/../status", "//ready" and "/ready%00" are simply not routes.

export type Match<H> =
  | { readonly kind: 'found'; readonly handler: H }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'method_not_allowed'; readonly allow: string };

export interface Router<H> {
  add(method: string, path: string, handler: H): Router<H>;
  /** Looks up `url` (a request target; its query string is ignored). HEAD falls back to GET. */
  match(method: string, url: string): Match<H>;
}

export function createRouter<H>(): Router<H> {
  const routes = new Map<string, Map<string, H>>();
  const allowHeaders = new Map<string, string>();

  const router: Router<H> = {
    add(method, path, handler) {
      const methods = routes.get(path) ?? new Map<string, H>();
      methods.set(method, handler);
      routes.set(path, methods);
      const allowed = [...methods.keys()];
      if (methods.has('GET') && !methods.has('HEAD')) allowed.push('HEAD');
      allowHeaders.set(path, allowed.join(', '));
      return router;
    },
    match(method, url) {
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      const methods = routes.get(path);
      if (methods === undefined) return { kind: 'not_found' };
      const handler = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
      if (handler === undefined) return { kind: 'method_not_allowed', allow: allowHeaders.get(path)! };
      return { kind: 'found', handler };
    },
  };
  return router;
}
