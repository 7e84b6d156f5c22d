import { BadRequestError } from "@aetherium/common";
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from "fastify";

/**
 * A WebSocket route asked for without `Upgrade: websocket` gets a 400 in the error envelope that
 * says how to connect, instead of the WebSocket plugin's empty 404 (which reads as "no such
 * route"). Registered before the routes, so it covers every WebSocket route.
 */
export function installWebSocketOnly(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    if (route.websocket !== true) return;
    const refusePlainHttp: preHandlerHookHandler = (req, _reply, done) => {
      if ((req as FastifyRequest & { ws?: boolean | null }).ws === false) {
        done(
          new BadRequestError(
            `${route.url} is a WebSocket: connect with \`Upgrade: websocket\` (ws:// or wss://)`,
          ),
        );
        return;
      }
      done();
    };
    const given = route.preHandler;
    route.preHandler = [
      ...(Array.isArray(given) ? given : given ? [given] : []),
      refusePlainHttp,
    ] as typeof route.preHandler;
  });
}
