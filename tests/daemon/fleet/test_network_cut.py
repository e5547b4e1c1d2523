"""The network cut in the middle of a batch: a real TCP relay between the shipper and the
server closes both sides after a given number of bytes, at several points of a shipment."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

from daemon.cli.main import main
from daemon.log.database import Database

from logbuilders import history_log
from postgres_server import PostgresServer


@contextmanager
def cutting_relay(target_port: int, cut_after: int) -> Iterator[int]:
    """A loopback port relaying to ``target_port`` that cuts every connection once
    ``cut_after`` bytes have gone from the client to the server."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket, budget: list[int] | None) -> None:
        try:
            while data := source.recv(65536):
                if budget is not None:
                    budget[0] -= len(data)
                    if budget[0] <= 0:
                        break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            budget = [cut_after]
            threading.Thread(target=pump, args=(client, upstream, budget), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, None), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()


def ship_cli(db: Database, url: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["ship", "--db", str(db.path), "--fleet", url, "--machine", "cut"], out, err)
    return code, err.getvalue()


def test_a_cut_mid_batch_loses_nothing_and_the_next_ship_completes_once(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    db = history_log(tmp_path / "cut.db", days=3, events=30_000)
    dbname = postgres_server.new_database()
    direct = postgres_server.url(dbname)
    conn = db.connect_readonly()
    local = [tuple(r) for r in conn.execute("SELECT seq, event_id, hash FROM events ORDER BY seq")]
    conn.close()
    for cut_after in (20_000, 400_000, 3_000_000, 9_000_000):
        with cutting_relay(postgres_server.port, cut_after) as port:
            relayed = direct.replace(f":{postgres_server.port}/", f":{port}/")
            code, err = ship_cli(db, relayed)
        assert code == 1, err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert postgres_server.password not in err
    code, err = ship_cli(db, direct)
    assert code == 0, err
    with psycopg.connect(direct) as central:
        rows = [tuple(r) for r in central.execute(
            "SELECT seq, event_id, hash FROM events WHERE machine = 'cut' ORDER BY seq")]
    assert rows == local
    out, err_io = io.StringIO(), io.StringIO()
    assert main(["verify", "--fleet", direct], out, err_io) == 0, out.getvalue()
