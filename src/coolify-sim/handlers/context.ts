import type { SimPrincipal } from '../auth.js';
import type { SimRequest, SimResponse } from '../http.js';
import type { SimLifecycle } from '../lifecycle.js';
import type { SimState } from '../state.js';

export interface SimContext {
  req: SimRequest;
  /** Path parameters by name, e.g. `uuid`. */
  params: Record<string, string>;
  state: SimState;
  principal: SimPrincipal;
  lifecycle: SimLifecycle;
  /** Epoch ms of this request. */
  now: number;
  version: string;
}

export type Handler = (ctx: SimContext) => SimResponse;

export function param(ctx: SimContext, name: string): string {
  return ctx.params[name] ?? '';
}
