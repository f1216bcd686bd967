# Sourced by the bench scripts. free_port asks the OS for a port nobody is listening on: it binds
# 127.0.0.1:0, reads the port the kernel chose and lets it go, so a script never depends on a
# fixed port that another process may hold. The scripts still check the port is free before
# they start a server on it.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
