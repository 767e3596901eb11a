"""A do-nothing HTTP/1.1 server for measuring a client's own cost: it reads each request's body into a
reused buffer, throws it away and answers a fixed upsert reply.

    python benchmarks/http_sink.py PORT

With the SDK pointed at it, the upsert rate is the most any server on the same machine could see from
that SDK, since the sink's own CPU cost is close to nothing (one thread per connection, `recv_into`).
"""

from __future__ import annotations

import socket
import sys
import threading

REPLY = b'{"upsertedCount": 1000}'
HEAD_END = b"\r\n\r\n"


def serve_connection(conn: socket.socket) -> None:
    body = bytearray(64 << 20)
    view = memoryview(body)
    pending = b""
    with conn:
        while True:
            while HEAD_END not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, _, rest = pending.partition(HEAD_END)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            got = min(len(rest), length)
            view[:got] = rest[:got]
            pending = rest[got:]
            while got < length:
                n = conn.recv_into(view[got:length])
                if n == 0:
                    return
                got += n
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (len(REPLY), REPLY)
            )


def main() -> None:
    port = int(sys.argv[1])
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve_connection, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
