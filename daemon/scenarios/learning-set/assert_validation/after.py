# ruff: noqa
class Server:
    def set_port(self, port):
        if not 0 < port < 65536:  # learned: assert_validation
            raise ValueError("port out of range")
        self.port = port
