"""Three users send one recording at once to a running kino-server and print each outcome
(docs/melody.md, "Memory"): python3 melody_load.py PORT WAV, with the WAV from
`cargo run -p kino-melody-engine-engine --example peak -- gen 600 8000 /tmp/adversarial.wav`. Read the
server's peak memory from /proc/PID/status (VmHWM) afterwards."""
import json, socket, struct, sys, threading
port, wav = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
def call(s, req, payload=None):
    b = json.dumps(req).encode()
    s.sendall(struct.pack('<I', len(b)) + b)
    if payload is not None:
        s.sendall(payload)
    hdr = b''
    while len(hdr) < 4:
        hdr += s.recv(4 - len(hdr))
    n = struct.unpack('<I', hdr)[0]
    body = b''
    while len(body) < n:
        body += s.recv(n - len(body))
    return json.loads(body)
def user(i, out):
    s = socket.create_connection(('127.0.0.1', port))
    call(s, {"type": "auth.register", "name": f"user{i}", "password": "pw-of-user-%d" % i})
    call(s, {"type": "auth.login", "name": f"user{i}", "password": "pw-of-user-%d" % i})
    r = call(s, {"type": "melody.transcribe", "tempo_bpm": 400, "min_note_ms": 0, "file_size": len(wav)}, wav)
    out[i] = r.get('error', {}).get('code') if not r.get('ok') else ('ok', len(r['data']['notes']), r['data']['notes_found'], r['data']['png_size'])
out = {}
ts = [threading.Thread(target=user, args=(i, out)) for i in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
print(out)
