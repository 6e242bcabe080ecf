#!/usr/bin/python3
"""Connectionless DCE/RPC (v4) NetrSendMessage requests built independently
of the Go encoder under test: the stub by Impacket's NDR marshaller, the
80-byte header by hand from C706 (docs/protocols/msrp-rpc.md). Used by the
interop tests.

usage: netrsend.py HOST PORT SHAPE FROM TO TEXT_HEX [WAIT_SECONDS]
  SHAPE: oneway   flags maybe|idempotent|broadcast|nofack (the 2003 spam form), no answer expected
         ack      flags idempotent|nofack; prints the response's status
         frag     the stub split across three fragments (sent out of order)
         bigend   big-endian data representation (header and stub)
         ms03043  Text's max_count and actual_count claim more than is sent
         bare     a request with the header only, no stub (a probe)
         wrongif  the stub of NetrSendMessage under another interface UUID
FROM, TO are ASCII; TEXT_HEX is the text's OEM bytes in hex.
Prints one line: "status 0x........", "sent", or "no answer".
"""
import os, socket, struct, sys
from impacket.uuid import uuidtup_to_bin
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.dtypes import STR

MSGSVCSEND = uuidtup_to_bin(('5A7B91F8-FF00-11D0-A9B2-00C04FB6E6FC', '1.0'))[:16]

class NetrSendMessage(NDRCALL):
    opnum = 0
    structure = (('From', STR), ('To', STR), ('Text', STR))

def header(stub_len, flags1, order='<', fragnum=0, activity=b'', seq=0, iface=MSGSVCSEND):
    drep = b'\x10\x00\x00' if order == '<' else b'\x00\x00\x00'
    if order == '>':
        # The first three UUID fields follow the data representation.
        iface = iface[3::-1] + iface[5:3:-1] + iface[7:5:-1] + iface[8:]
    return struct.pack(order + 'BBBB3sB16s16s16sIIIHHHHHBB',
        4, 0, flags1, 0, drep, 0, b'\0' * 16, iface, activity,
        0, 1, seq, 0, 0xFFFF, 0xFFFF, stub_len, fragnum, 0, 0)

def cvstring(data, order):
    """A conformant varying NDR byte string, padded to 4 with 0xAB as Impacket pads."""
    n = len(data) + 1
    out = struct.pack(order + 'III', n, 0, n) + data + b'\x00'
    while len(out) % 4:
        out += b'\xab'
    return out

def main():
    host, port, shape, frm, to, text_hex = sys.argv[1:7]
    wait = float(sys.argv[7]) if len(sys.argv) > 7 else 3
    assert host.startswith('127.') or host.startswith('10.99.'), 'loopback and test namespaces only'
    text = bytes.fromhex(text_hex)
    activity = os.urandom(16)
    req = NetrSendMessage()
    # Impacket's STR writes bytes as they are (a str would go out as
    # UTF-8): the OEM bytes travel unchanged, NUL included in the counts.
    req['From'] = frm.encode() + b'\x00'
    req['To'] = to.encode() + b'\x00'
    req['Text'] = text + b'\x00'
    stub = req.getData()
    assert text in stub, 'impacket did not carry the OEM bytes through'
    packets = []
    if shape == 'oneway':
        packets = [header(len(stub), 0x78, activity=activity) + stub]
    elif shape == 'ack':
        packets = [header(len(stub), 0x28, activity=activity) + stub]
    elif shape == 'frag':
        cut1, cut2 = len(stub) // 3, 2 * len(stub) // 3
        parts = [stub[:cut1], stub[cut1:cut2], stub[cut2:]]
        flags = [0x20 | 0x04, 0x20 | 0x04, 0x20 | 0x04 | 0x02]
        packets = [header(len(p), f, fragnum=i, activity=activity) + p for i, (p, f) in enumerate(zip(parts, flags))]
        packets = [packets[2], packets[0], packets[1]]
    elif shape == 'bigend':
        body = cvstring(frm.encode(), '>') + cvstring(to.encode(), '>') + cvstring(text, '>')
        packets = [header(len(body), 0x28, order='>', activity=activity) + body]
    elif shape == 'ms03043':
        body = cvstring(frm.encode(), '<') + cvstring(to.encode(), '<')
        # Claim 0x2000 bytes of text and send a few: the overflow's shape.
        body += struct.pack('<III', 0x2000, 0, 0x2000) + text
        packets = [header(len(body), 0x28, activity=activity) + body]
    elif shape == 'bare':
        packets = [header(0, 0x28, activity=activity)]
    elif shape == 'wrongif':
        other = uuidtup_to_bin(('12345778-1234-ABCD-EF00-0123456789AC', '1.0'))[:16]  # samr: not served here
        packets = [header(len(stub), 0x28, activity=activity, iface=other) + stub]
    else:
        sys.exit('unknown shape ' + shape)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    for p in packets:
        s.sendto(p, (host, int(port)))
    if shape == 'oneway':
        print('sent')
        return
    try:
        data, _ = s.recvfrom(2048)
    except socket.timeout:
        print('no answer')
        return
    order = '<' if data[4] & 0x10 else '>'
    ptype, body_len = data[1], struct.unpack(order + 'H', data[74:76])[0]
    status = struct.unpack(order + 'I', data[80:84])[0] if body_len >= 4 else 0xFFFFFFFF
    print('ptype %d status 0x%08x' % (ptype, status))

if __name__ == '__main__':
    main()
