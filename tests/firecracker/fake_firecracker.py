#!/usr/bin/python3
"""Stands in for the firecracker binary in pyro's backend tests.

Serves the API socket given by --api-sock the way Firecracker does (HTTP/1.1,
keep-alive, 204 without a body, 400 with a JSON fault_message), appends every
request it receives to $FAKE_FC_RECORD as one JSON line, and refuses what
Firecracker would refuse for missing files. On InstanceStart it plays the
guest: it listens on the vsock socket named by PUT /vsock and answers
"CONNECT <port>" the way Firecracker's hybrid vsock does, relaying the
stream to a real pyro-agent at $FAKE_FC_AGENT_SOCKET. When that agent stops
accepting connections (it shut down) the "VM" powers off: the process exits.

$FAKE_FC_MODE:
  relay   (default) as above
  silent  accepts vsock connections and never answers CONNECT
  linger  as relay, but never powers off by itself
  crash   the guest panics and the process exits 0.2 s after InstanceStart
$FAKE_FC_BOOT_DELAY: seconds after InstanceStart during which the guest is
  still booting (CONNECTs are closed unanswered, as nothing listens yet).
$FAKE_FC_PID_FILE: where to write this process's pid.
$FAKE_FC_REFUSE: a request ("PUT /vsock") answered with 400 and a fault.

Under the fake jailer, --fake-chroot DIR maps every absolute path it is
given to DIR/path, as a chroot would.
"""

import json
import os
import socket
import sys
import threading
import time

args = sys.argv[1:]


def arg(name):
    return args[args.index(name) + 1] if name in args else None


root = arg("--fake-chroot") or ""
mode = os.environ.get("FAKE_FC_MODE", "relay")
record = os.environ.get("FAKE_FC_RECORD")
agent_socket = os.environ.get("FAKE_FC_AGENT_SOCKET")
boot_delay = float(os.environ.get("FAKE_FC_BOOT_DELAY", "0"))
state = {"vsock": None, "started_at": None, "lock": threading.Lock()}


def host(path):
    return root + path if root and path.startswith("/") else path


def log(text):
    print("fake-firecracker: " + text, flush=True)


def record_request(method, path, body):
    if not record:
        return
    with state["lock"], open(record, "a") as f:
        f.write(json.dumps({"method": method, "path": path, "body": body}) + "\n")


def fault(text):
    return 400, {"fault_message": text}


def handle(method, path, body):
    record_request(method, path, body)
    if os.environ.get("FAKE_FC_REFUSE") == method + " " + path:
        return fault("the test refuses " + method + " " + path)
    if method != "PUT":
        return fault("unexpected method " + method)
    if path == "/boot-source":
        for key in ("kernel_image_path", "initrd_path"):
            if key in body and not os.path.isfile(host(body[key])):
                return fault("Invalid %s: %s" % (key, body[key]))
    elif path.startswith("/drives/"):
        disk = host(body.get("path_on_host", ""))
        if not os.access(disk, os.R_OK | os.W_OK):
            return fault("Unable to open block device: " + body.get("path_on_host", ""))
    elif path == "/vsock":
        state["vsock"] = host(body["uds_path"])
    elif path == "/actions" and body.get("action_type") == "InstanceStart":
        if state["vsock"] is None:
            return fault("no vsock device")
        start_guest()
    return 204, None


def read_request(conn, buf):
    while b"\r\n\r\n" not in buf:
        data = conn.recv(4096)
        if not data:
            return None, buf
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(buf) < length:
        data = conn.recv(4096)
        if not data:
            return None, buf
        buf += data
    body, buf = buf[:length], buf[length:]
    return (method, path, json.loads(body) if body else None), buf


def serve_api_connection(conn):
    buf = b""
    while True:
        request, buf = read_request(conn, buf)
        if request is None:
            conn.close()
            return
        status, body = handle(*request)
        head = "HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n" % status
        if status == 204:
            conn.sendall((head + "\r\n").encode())
        else:
            data = json.dumps(body).encode()
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data)
            conn.sendall(head.encode() + data)


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve_vsock_connection(conn):
    line = b""
    while not line.endswith(b"\n") and len(line) < 64:
        data = conn.recv(1)
        if not data:
            conn.close()
            return
        line += data
    if mode == "silent":
        time.sleep(3600)
        return
    booting = time.monotonic() - state["started_at"] < boot_delay
    if line != b"CONNECT 1024\n" or booting:
        conn.close()  # nothing listens on that guest port (yet)
        return
    guest = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        guest.connect(agent_socket)
    except OSError:
        conn.close()
        return
    conn.sendall(b"OK 1073741824\n")
    threading.Thread(target=pump, args=(conn, guest), daemon=True).start()
    threading.Thread(target=pump, args=(guest, conn), daemon=True).start()


def agent_alive():
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(agent_socket)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def power_watch():
    while agent_alive():
        time.sleep(0.05)
    log("the guest powered off")
    os._exit(0)


def accept_loop(listener, serve):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)  # fails if the path exists, as Firecracker's bind does
    s.listen(16)
    return s


def crash():
    time.sleep(0.2)
    log("guest kernel panic: the test asked for one")
    os._exit(1)


def start_guest():
    state["started_at"] = time.monotonic()
    if mode == "crash":
        threading.Thread(target=crash, daemon=True).start()
    listener = listen(state["vsock"])
    threading.Thread(target=accept_loop, args=(listener, serve_vsock_connection),
                     daemon=True).start()
    if mode == "relay":
        threading.Thread(target=power_watch, daemon=True).start()
    log("InstanceStart: guest listening on " + state["vsock"])


def main():
    if os.environ.get("FAKE_FC_PID_FILE"):
        with open(os.environ["FAKE_FC_PID_FILE"], "w") as f:
            f.write(str(os.getpid()))
    api = arg("--api-sock")
    if api is None:
        log("--api-sock is required")
        return 2
    log("args " + " ".join(args))
    accept_loop(listen(host(api)), serve_api_connection)


if __name__ == "__main__":
    sys.exit(main())
