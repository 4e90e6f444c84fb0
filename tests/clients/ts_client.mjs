// One session of the official TypeScript MCP client (@modelcontextprotocol/client 2.x) against a URL: list the
// tools, call one, print what happened as one JSON line. The bench's stand-in for a TypeScript application.
//
//   node ts_client.mjs URL --era legacy|auto|2026-07-28 [--transport http|sse] [--token T]
//                          [--tool echo] [--args '{"message":"hi"}']
//
// Exit 0 with {"protocolVersion", "tools", "result"} on stdout; exit 1 with the error on stderr.
import { parseArgs } from "node:util";
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    era: { type: "string", default: "auto" },
    transport: { type: "string", default: "http" },
    token: { type: "string" },
    tool: { type: "string", default: "echo" },
    args: { type: "string", default: '{"message":"from typescript"}' },
  },
});
const url = new URL(positionals[0]);
const authProvider = values.token ? { token: async () => values.token } : undefined;
const transport =
  values.transport === "sse"
    ? new SSEClientTransport(url, { authProvider })
    : new StreamableHTTPClientTransport(url, { authProvider });
const mode = values.era === "legacy" || values.era === "auto" ? values.era : { pin: values.era };

// Declares sampling and elicitation, and answers them, like an application with a model and a user would.
const client = new Client(
  { name: "hosted-mcp-bench-ts", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode } },
);
client.setRequestHandler("sampling/createMessage", async () => ({
  role: "assistant",
  content: { type: "text", text: "sampled by the bench" },
  model: "bench",
  stopReason: "endTurn",
}));
client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: {} }));

try {
  await client.connect(transport);
  const { tools } = await client.listTools();
  const result = await client.callTool({ name: values.tool, arguments: JSON.parse(values.args) });
  process.stdout.write(
    JSON.stringify({
      protocolVersion: client.getNegotiatedProtocolVersion() ?? null,
      tools: tools.map((tool) => tool.name),
      result,
    }) + "\n",
  );
  await client.close();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error?.stack ?? error}\n${error?.message ?? error}\n`); // the message last, on its own
  process.exit(1);
}
