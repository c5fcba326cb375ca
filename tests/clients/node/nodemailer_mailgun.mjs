// nodemailer with nodemailer-mailgun-transport (which bundles its own mailgun.js), against mockgun.
//   node nodemailer_mailgun.mjs BASE_URL KEY   (NODE_EXTRA_CA_CERTS trusts mockgun)
import nodemailer from "nodemailer";
import mg from "nodemailer-mailgun-transport";

const [url, key] = process.argv.slice(2);
const transport = nodemailer.createTransport(mg({ auth: { api_key: key, domain: "mg.example.com" }, url }));
try {
  const info = await transport.sendMail({
    from: "Shop <shop@mg.example.com>",
    to: "ann@example.com, Bob <bob@example.com>",
    subject: "Via nodemailer",
    text: "Hello",
    html: "<b>Hello</b>",
    attachments: [{ filename: "note.txt", content: "a note" }],
    messageId: "<order-1001@shop.example>", // the transport sends it as h:Message-Id
  });
  console.log(JSON.stringify({ id: info.id, message: info.message }));
} catch (error) {
  console.log(JSON.stringify({ error: error.name, status: error.status, details: error.details }));
}
