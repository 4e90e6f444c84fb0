"""The data plane: what stands between an MCP client and a hosted server, in the local gateway and on AWS.

One request goes through small rules, each in its own module: the request line is safe (`request_line`), the
Host and Origin are ours (`trusted_host`), a CORS preflight is answered without credentials (`cors`), the caller
may use this server (the shared `hosted_mcp.auth.decision`), the mirrored MCP headers agree with the body
(`mcp_headers`). Then `dataplane` picks a replica (`sessions` keeps a session on the replica that made it) and
either relays the exchange byte for byte (`forwarder`, rewriting the SSE endpoint event: `sse_endpoint`) or, for
a client of the current protocol revision and a server of the 2025 one, speaks each side's revision (`eras`).
"""
