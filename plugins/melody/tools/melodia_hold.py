"""Opens N Melodia connections that each send SIZE bytes of an unfinished message and stay
open, then prints the server's VmRSS (docs/melody.md, "Memory"):
python3 melodia_hold.py LISTENER_PORT N SIZE SERVER_PID"""
import socket, sys, time
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'{"request": 1, "data": "')
    try:
        s.sendall(b'A' * size)
    except OSError as e:
        print('closed', e)
    socks.append(s)
time.sleep(2)
print(open('/proc/%s/status' % sys.argv[4]).read().split('VmRSS:')[1].split('\n')[0].strip())
