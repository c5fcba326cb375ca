// nodemailer's own SMTP transport (not the Mailgun API), as a Node app sends through Mailgun's SMTP.
//   node nodemailer_smtp.mjs HOST PORT USER PASSWORD   (NODE_EXTRA_CA_CERTS trusts mockgun)
// Prints one JSON line: what nodemailer reported, or the error it threw.
import nodemailer from "nodemailer";

const [host, port, user, pass] = process.argv.slice(2);
const transport = nodemailer.createTransport({
  host,
  port: Number(port),
  secure: false, // submission: plain, then STARTTLS ...
  requireTLS: true, // ... which must succeed before AUTH
  auth: { user, pass },
});
try {
  const info = await transport.sendMail({
    from: "Shop <shop@example.com>",
    to: "ann@example.com",
    subject: "Sent by nodemailer over SMTP",
    text: "Hello",
    headers: { "X-Mailgun-Tag": "node" },
    attachments: [{ filename: "receipt.txt", content: "receipt" }],
  });
  console.log(JSON.stringify({ accepted: info.accepted, response: info.response }));
} catch (error) {
  console.log(JSON.stringify({ error: error.code || error.name, message: error.message }));
}
