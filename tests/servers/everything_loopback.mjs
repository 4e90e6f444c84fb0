// Runs @modelcontextprotocol/server-everything (mode: stdio, sse or streamableHttp, as its own first argument)
// listening on 127.0.0.1 only: its HTTP modes call `app.listen(PORT)`, which binds every interface, and the bench
// never listens beyond loopback. Every other behaviour is the package's own.
import http from "node:http";

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === "number" || (typeof port === "string" && /^\d+$/.test(port))) {
    const callbacks = rest.filter((arg) => typeof arg === "function");
    return listen.call(this, Number(port), "127.0.0.1", ...callbacks);
  }
  return listen.call(this, port, ...rest);
};

await import("@modelcontextprotocol/server-everything/dist/index.js");
