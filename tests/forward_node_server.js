// A Fluent Forward server from the fluent organisation's own Node.js
// implementation (@fluent-org/logger's FluentServer), for
// tests/e2e_forward_node.sh: an independent check that iocstream's
// Forward client speaks the protocol (PackedForward and
// CompressedPackedForward, EventTime, chunk acks, the shared-key
// handshake). Writes one JSON line per entry: {tag, sec, nsec, record}.
//
// usage: node forward_node_server.js MODULE_DIR OUT READY [SHARED_KEY]
"use strict";
const fs = require("fs");
const path = require("path");
const [moduleDir, out, ready, sharedKey] = process.argv.slice(2);
const { FluentServer, EventTime } = require(path.join(moduleDir,
    "node_modules", "@fluent-org", "logger"));

const options = { listenOptions: { host: "127.0.0.1", port: 0 } };
if (sharedKey)
    options.security = { serverHostname: "node-server", sharedKey,
                          authorize: false, userDict: {} };
const server = new FluentServer(options);
const fd = fs.openSync(out, "w");
server.on("entry", (tag, time, record) => {
    let sec, nsec;
    if (time instanceof EventTime) {
        sec = time.epoch;
        nsec = time.nano;
    } else {
        sec = time;
        nsec = -1; // an integer time, not EventTime
    }
    fs.writeSync(fd, JSON.stringify({ tag, sec, nsec, record }) + "\n");
});
server.listen().then(() => {
    fs.writeFileSync(ready + ".tmp", String(server.port));
    fs.renameSync(ready + ".tmp", ready);
});
process.on("SIGTERM", () => { fs.fsyncSync(fd); process.exit(0); });
