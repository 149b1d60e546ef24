# impacket's SMB server as smbkit-testserver runs it: what impacket's examples/smbserver.py does with
# `-ip 127.0.0.1 -username USER -password PASSWORD [-smb2support] SHARE PATH`, plus what a test server
# needs: it listens on a port the kernel picks (no race for a free port), says which in DIR/port once it
# listens, and exits, removing DIR, when its standard input reaches end of file, that is when the
# process that started it drops the ImpacketServer or dies.
#
# usage: python3 -c "$(cat impacket_server.py)" DIR SHARE PATH USER PASSWORD smb1|smb2

import logging
import os
import shutil
import sys
import threading

from impacket import smbserver
from impacket.ntlm import compute_lmhash, compute_nthash


def main():
    top, share, path, user, password, mode = sys.argv[1:7]
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if os.environ.get("SMBKIT_IMPACKET_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    server = smbserver.SimpleSMBServer(listenAddress="127.0.0.1", listenPort=0)
    server.addShare(share, path, "", readOnly="no")
    server.setSMB2Support(mode == "smb2")
    server.addCredential(user, 0, compute_lmhash(password), compute_nthash(password))
    server.setSMBChallenge("")
    # The listening socket is bound (and listens) once SimpleSMBServer is made.
    port = server.getServer().server_address[1]
    threading.Thread(target=server.start, daemon=True).start()
    tmp = os.path.join(top, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, os.path.join(top, "port"))
    sys.stdout.flush()
    # Until the owner goes away.
    while sys.stdin.buffer.read(4096):
        pass
    shutil.rmtree(top, ignore_errors=True)
    os._exit(0)


main()
