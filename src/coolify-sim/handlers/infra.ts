import { notFound, type SimResponse } from '../http.js';
import { destinationRow, serverRow } from '../serialize.js';
import { param, type Handler } from './context.js';

/** Version, servers and destinations (notes §4, §7). */

export const version: Handler = (ctx): SimResponse => ({ status: 200, text: ctx.version });

export const listServers: Handler = (ctx) => ({ status: 200, body: ctx.state.servers.map(serverRow) });

export const getServer: Handler = (ctx) => {
  const server = ctx.state.server(param(ctx, 'uuid'));
  if (!server) throw notFound('Server not found.');
  return { status: 200, body: serverRow(server) };
};

export const listAllDestinations: Handler = (ctx) => ({
  status: 200,
  body: ctx.state.destinations.map((d) => destinationRow(ctx.state, d)),
});

export const listServerDestinations: Handler = (ctx) => {
  const server = ctx.state.server(param(ctx, 'uuid'));
  if (!server) throw notFound('Server not found.');
  return { status: 200, body: ctx.state.destinationsOf(server.id).map((d) => destinationRow(ctx.state, d)) };
};
