"""A hosted HTTP server for the gateway's tests: answers just enough MCP to be taken into service, and appends the
head of every request it receives (request line and headers, exactly as read off the socket) to `heads.log` and
its body to `bodies.log` (one line each) in its working directory, so a test can see what reached the server and
what did not.
"""

import asyncio
import json
import os

LOG = "heads.log"
BODIES = "bodies.log"


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            with open(LOG, "ab") as log:
                log.write(head)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            with open(BODIES, "ab") as log:
                log.write(body.replace(b"\n", b" ") + b"\n")
            message = json.loads(body) if body else {}
            if "id" not in message:
                writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                continue
            result = {
                "initialize": {
                    "protocolVersion": message.get("params", {}).get("protocolVersion", "2025-06-18"),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "witness", "version": "1"},
                },
                "tools/list": {"tools": []},
            }.get(message.get("method"), {})
            payload = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b"
                % (len(payload), payload)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(answer, "127.0.0.1", int(os.environ["PORT"]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
