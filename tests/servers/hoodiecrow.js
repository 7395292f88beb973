// A Hoodiecrow IMAP server (npm hoodiecrow-imap) for duty-desk's tests: one
// personal namespace "" with the separator given, IDLE and NAMESPACE, and no
// MOVE and no UIDPLUS (so the COPY, \Deleted, EXPUNGE path is taken). State is
// in memory: it lives as long as the process.
//
//   node hoodiecrow.js PORT SEPARATOR USER PASSWORD
"use strict";
const hoodiecrow = require("hoodiecrow-imap");

const [port, separator, user, password] = process.argv.slice(2);
const users = {};
users[user] = { password: password };
const server = hoodiecrow({
    plugins: ["IDLE", "NAMESPACE", "LITERALPLUS"],
    users: users,
    storage: {
        INBOX: {},
        "": { separator: separator, folders: {} },
    },
});
server.listen(Number(port), "127.0.0.1", () => console.log("listening " + port));
