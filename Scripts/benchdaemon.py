"""Starting lstmd for the benchmark scripts: ipc endpoints in a temporary directory of its own, then
waiting until it answers `ping`."""
import os
import subprocess
import sys
import tempfile

import zmq

ENDPOINTS = ("ingest", "predictions", "control", "results")


def start(lstmd, extra, *, prefix, log_file=False):
    """Starts `lstmd` with `extra` options on ipc endpoints in a new temporary directory. Its stderr
    goes to `<directory>/log` with `log_file`, else to a pipe (read it with `communicate`). Returns
    the process, the endpoints by name and the directory."""
    directory = tempfile.mkdtemp(prefix=prefix)
    endpoints = {name: f"ipc://{directory}/{name}" for name in ENDPOINTS}
    stderr = open(os.path.join(directory, "log"), "w") if log_file else subprocess.PIPE
    arguments = [f"--{name}={endpoint}" for name, endpoint in endpoints.items()]
    process = subprocess.Popen([lstmd] + arguments + extra, stderr=stderr, text=True)
    return process, endpoints, directory


def wait_for_ping(context, control, seconds):
    """Waits until the daemon at `control` answers `ping`; exits the script after `seconds`."""
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(control)
    try:
        socket.send(b'{"command":"ping"}')
        if not socket.poll(int(seconds * 1000)):
            sys.exit(f"lstmd did not answer ping within {seconds} s")
        socket.recv()
    finally:
        socket.close()
