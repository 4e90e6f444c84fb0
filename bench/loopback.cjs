// Preloaded (NODE_OPTIONS=--require) into the npm bridges the benchmark measures: whatever address one asks
// for, it listens on loopback only. supergateway has no option for its listening address.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const done = args.find((arg) => typeof arg === "function");
    return done ? listen.call(this, Number(first), "127.0.0.1", done) : listen.call(this, Number(first), "127.0.0.1");
  }
  if (first && typeof first === "object" && "port" in first) {
    args[0] = { ...first, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
