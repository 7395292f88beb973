// An SMTP server that withholds 8BITMIME and SMTPUTF8 (npm smtp-server), for
// duty-desk's tests: every message accepted is written to DIR/NNNN.eml with its
// envelope in DIR/NNNN.env (one line: from, then the recipients); the commands
// as the client wrote them go to standard output.
//
//   node smtp-sink.js PORT DIR
"use strict";
const fs = require("fs");
const path = require("path");
const { SMTPServer } = require("smtp-server");

const [port, dir] = process.argv.slice(2);
let n = 0;
const server = new SMTPServer({
    hide8BITMIME: true,
    hideSMTPUTF8: true,
    hideSTARTTLS: true,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    // Each command is logged as the client wrote it (the envelope above is
    // normalised: punycode shown as Unicode).
    logger: true,
    onData(stream, session, callback) {
        const chunks = [];
        stream.on("data", (c) => chunks.push(c));
        stream.on("end", () => {
            n += 1;
            const name = String(n).padStart(4, "0");
            const env = [session.envelope.mailFrom ? session.envelope.mailFrom.address : ""]
                .concat(session.envelope.rcptTo.map((r) => r.address));
            fs.writeFileSync(path.join(dir, name + ".eml.tmp"), Buffer.concat(chunks));
            fs.writeFileSync(path.join(dir, name + ".env"), env.join(" ") + "\n");
            fs.renameSync(path.join(dir, name + ".eml.tmp"), path.join(dir, name + ".eml"));
            callback();
        });
    },
});
server.listen(Number(port), "127.0.0.1", () => console.log("listening " + port));
