# ruff: noqa
class Server:
    def set_port(self, port):
        assert 0 < port < 65536
        self.port = port
