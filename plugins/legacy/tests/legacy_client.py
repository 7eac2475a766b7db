#!/usr/bin/env python3
"""A stand-in for the original service's Python client, for testing Kino's legacy plugin.

Written from the protocol (docs/legacy.md), not copied from the original: it sends the same
frames the original client sends, in the same way, and reads the same replies.

- A frame is struct.pack('i', n) (4 bytes, little-endian here) and then n bytes of
  json.dumps(dict) in UTF-8. Like the original, the length and the body go out in two separate
  send calls, on a socket with Nagle's algorithm on (Python's default).
- An upload's file follows its request line by line ("for line in f"), one send per line.
- A download's bytes follow its reply; the client sleeps for the reply's wait_time first.
- After login, every request carries "session"; requests made before carry none (None).

Usage:
    legacy_client.py HOST PORT [--wait SECS] [--bench N]

Runs a full admin session (register, login, check and upload movies, list, delete, publish a
notice) and a full user session (register, login, notices, lists, a free and a charged
download, records, VIP) against a kino-server started with --allow-admin-signup and
--free-download-wait SECS (default 1), checking every reply. With --bench N it then times N
get_movie_list requests on one connection and prints the rate. Exits 0 when every check
passed, 1 (with the reason on stderr) otherwise. Standard library only.
"""

import hashlib
import json
import os
import socket
import struct
import sys
import tempfile
import time

TIMEOUT_S = 60


class Failed(Exception):
    """A reply was not what the original client expects."""


def expect(cond, what, reply=None):
    if not cond:
        raise Failed("%s (reply: %r)" % (what, reply))


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
    return sock


def recv_exact(sock, n):
    chunks = []
    while n > 0:
        data = sock.recv(min(n, 65536))
        if not data:
            raise Failed("the server closed the connection")
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


def send_frame(sock, request):
    body = json.dumps(request).encode("utf-8")
    sock.send(struct.pack("i", len(body)))  # first send: the length
    sock.sendall(body)  # second send: the JSON


def recv_reply(sock):
    (n,) = struct.unpack("i", recv_exact(sock, 4))
    return json.loads(recv_exact(sock, n).decode("utf-8"))


def exchange(sock, request, upload_path=None):
    """One request, its file if any (line by line), and its reply."""
    send_frame(sock, request)
    if upload_path is not None:
        with open(upload_path, "rb") as f:
            for line in f:
                sock.sendall(line)
    return recv_reply(sock)


def password_hash(password):
    return hashlib.md5(password.encode("utf-8")).hexdigest()


def sampled_fingerprint(path):
    """MD5 of 10 bytes at the start, a third, two thirds, and 10 bytes before the end."""
    size = os.path.getsize(path)
    md = hashlib.md5()
    with open(path, "rb") as f:
        for offset in (0, size // 3, (size // 3) * 2, size - 10):
            f.seek(offset)
            md.update(f.read(10))
    return md.hexdigest()


def file_md5(path):
    md = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(65536), b""):
            md.update(block)
    return md.hexdigest()


def make_movies(folder):
    """Three files with line breaks in them, so uploads go out in many sends."""
    paths = {}
    for i, (name, size) in enumerate(
        (("free film.mp4", 300_000), ("charged film.mkv", 200_000), ("doomed.avi", 50_000))
    ):
        data = bytes((j * 7 + i * 13) % 256 if j % 113 else 10 for j in range(size))
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        paths[name] = path
    return paths


def login(sock, name, password, user_type):
    reply = exchange(
        sock,
        {"type": "login", "name": name, "password": password_hash(password), "user_type": user_type},
    )
    expect(reply.get("flag") is True, "login %s as %s" % (name, user_type), reply)
    expect(isinstance(reply.get("session"), str) and len(reply["session"]) == 32, "session", reply)
    expect(reply.get("is_vip") in (0, 1) and not isinstance(reply["is_vip"], bool), "is_vip 0/1", reply)
    return reply


def register(sock, name, password, user_type):
    return exchange(
        sock,
        {"type": "register", "name": name, "password": password_hash(password), "user_type": user_type},
    )


def admin_session(host, port, movies):
    sock = connect(host, port)
    reply = register(sock, "boss", "boss secret", "admin")
    expect(reply.get("flag") is True, "admin register", reply)
    expect(register(sock, "boss", "x", "admin").get("flag") is False, "duplicate register")
    session = login(sock, "boss", "boss secret", "admin")["session"]

    for name, path in movies.items():
        fingerprint = sampled_fingerprint(path)
        reply = exchange(sock, {"type": "check_movie", "session": session, "file_md5": fingerprint})
        expect(reply.get("flag") is True, "check_movie %s before upload" % name, reply)
        request = {
            "type": "update_movie",
            "session": session,
            "is_free": 0 if name.startswith("charged") else 1,
            "file_name": name,
            "file_md5": fingerprint,
            "file_size": os.path.getsize(path),
        }
        reply = exchange(sock, request, upload_path=path)
        expect(reply.get("flag") is True, "update_movie %s" % name, reply)
        reply = exchange(sock, {"type": "check_movie", "session": session, "file_md5": fingerprint})
        expect(reply.get("flag") is False, "check_movie %s after upload" % name, reply)

    reply = exchange(sock, {"type": "get_movie_list", "session": session, "movie_type": "all"})
    expect(reply.get("flag") is True, "admin movie list", reply)
    listed = {m[0]: m for m in reply["movie_list"]}
    expect(set(listed) == set(movies), "every upload listed", reply)
    expect(listed["free film.mp4"][1] == "免费" and listed["charged film.mkv"][1] == "收费", "prices", reply)
    reply = exchange(
        sock, {"type": "delete_movie", "session": session, "movie_id": listed["doomed.avi"][2]}
    )
    expect(reply.get("flag") is True, "delete_movie", reply)

    reply = exchange(
        sock, {"type": "release_notice", "session": session, "title": "欢迎", "content": "新片上线"}
    )
    expect(reply.get("flag") is True, "release_notice", reply)
    sock.close()


def download(sock, session, movie_id, folder):
    # Both of the original client's download views send movie_type "free".
    request = {"type": "download_movie", "session": session, "movie_id": movie_id, "movie_type": "free"}
    reply = exchange(sock, request)
    expect(reply.get("flag") is True, "download_movie %s" % movie_id, reply)
    time.sleep(reply["wait_time"])
    path = os.path.join(folder, os.path.basename(reply["file_name"]))
    with open(path, "wb") as f:
        f.write(recv_exact(sock, reply["file_size"]))
    return reply, path


def user_session(host, port, movies, wait_s, folder):
    sock = connect(host, port)
    reply = exchange(sock, {"type": "check_notice", "session": None})
    expect(reply == {"flag": False, "msg": "请先登录"}, "not logged in", reply)
    expect(register(sock, "viewer", "viewer secret", "user").get("flag") is True, "user register")
    reply = exchange(
        sock,
        {"type": "login", "name": "viewer", "password": password_hash("viewer secret"), "user_type": "admin"},
    )
    expect(reply.get("flag") is False, "a user logging in as admin", reply)
    reply = login(sock, "viewer", "viewer secret", "user")
    session = reply["session"]
    expect(reply["is_vip"] == 0, "new user is not VIP", reply)

    reply = exchange(sock, {"type": "check_notice", "session": session})
    expect(reply.get("flag") is True and ["欢迎", "新片上线"] in reply["back_notice_list"], "notices", reply)
    reply = exchange(sock, {"type": "download_movie_record", "session": session})
    expect(reply.get("flag") is False, "no records yet", reply)

    reply = exchange(sock, {"type": "get_movie_list", "session": session, "movie_type": "all"})
    expect(reply.get("flag") is True and len(reply["movie_list"]) == 2, "deleted movie hidden", reply)
    free = exchange(sock, {"type": "get_movie_list", "session": session, "movie_type": "free"})
    charge = exchange(sock, {"type": "get_movie_list", "session": session, "movie_type": "charge"})
    expect([m[0] for m in free["movie_list"]] == ["free film.mp4"], "free list", free)
    expect([m[0] for m in charge["movie_list"]] == ["charged film.mkv"], "charge list", charge)

    started = time.monotonic()
    reply, path = download(sock, session, free["movie_list"][0][2], folder)
    waited = time.monotonic() - started
    expect(reply["wait_time"] == 0, "the server enforces the wait itself", reply)
    expect(waited >= wait_s - 0.05, "free download held for the wait (%.2f s)" % waited)
    expect(file_md5(path) == file_md5(movies["free film.mp4"]), "free movie bytes")

    started = time.monotonic()
    reply, path = download(sock, session, charge["movie_list"][0][2], folder)
    expect(time.monotonic() - started < wait_s, "charged download starts at once")
    expect(file_md5(path) == file_md5(movies["charged film.mkv"]), "charged movie bytes")

    reply = exchange(sock, {"type": "download_movie_record", "session": session})
    expect(reply.get("flag") is True, "records", reply)
    expect(reply["back_record_list"] == ["free film.mp4", "charged film.mkv"], "record names", reply)

    expect(exchange(sock, {"type": "buy_vip", "session": session}).get("flag") is True, "buy_vip")
    expect(exchange(sock, {"type": "buy_vip", "session": session}).get("flag") is False, "buy_vip twice")
    sock.close()

    sock = connect(host, port)
    reply = login(sock, "viewer", "viewer secret", "user")
    expect(reply["is_vip"] == 1, "VIP after buy_vip", reply)
    started = time.monotonic()
    download(sock, reply["session"], free["movie_list"][0][2], folder)
    expect(time.monotonic() - started < wait_s, "VIP downloads free movies at once")
    return sock, reply["session"]


def bench(sock, session, count):
    request = {"type": "get_movie_list", "session": session, "movie_type": "all"}
    started = time.monotonic()
    for _ in range(count):
        reply = exchange(sock, request)
        expect(reply.get("flag") is True, "bench reply", reply)
    elapsed = time.monotonic() - started
    print("%d get_movie_list requests, two sends each, Nagle on: %.0f req/s" % (count, count / elapsed))


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    wait_s, bench_n = 1.0, 0
    rest = argv[3:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--wait":
            wait_s = float(value)
        elif flag == "--bench":
            bench_n = int(value)
        else:
            print("unknown option %s" % flag, file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as work:
        uploads = os.path.join(work, "update_movie")
        downloads = os.path.join(work, "download_movie")
        os.mkdir(uploads)
        os.mkdir(downloads)
        movies = make_movies(uploads)
        try:
            admin_session(host, port, movies)
            sock, session = user_session(host, port, movies, wait_s, downloads)
            if bench_n:
                bench(sock, session, bench_n)
            sock.close()
        except (Failed, OSError, ValueError, KeyError) as e:
            print("legacy client check failed: %s" % e, file=sys.stderr)
            return 1
    print("legacy client: admin and user sessions passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
