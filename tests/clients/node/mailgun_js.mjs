// mailgun.js (the official Node client), unchanged, against mockgun.
//   node mailgun_js.mjs BASE_URL KEY SCENARIO   (NODE_EXTRA_CA_CERTS trusts mockgun)
// Prints one JSON line: what the client returned, or the error it threw.
import FormData from "form-data";
import Mailgun from "mailgun.js";

const [url, key, scenario, extra] = process.argv.slice(2);
const mg = new Mailgun(FormData).client({ username: "api", key, url });
const domain = "mg.example.com";

async function run() {
  if (scenario === "send") {
    return mg.messages.create(domain, {
      from: "Shop <shop@mg.example.com>",
      to: ["Ann <ann@example.com>", "bob@example.com"],
      subject: "Your receipt",
      text: "Thanks!",
      html: '<p>Thanks! <img src="cid:logo.png"></p>',
      "o:tag": ["receipts", "2026"],
      "o:tracking": true,
      "o:testmode": false,
      "h:X-Order": "A-1001",
      "v:order-id": "A-1001",
      attachment: [{ filename: "receipt.pdf", data: Buffer.from("%PDF-1.7 receipt") }],
      inline: [{ filename: "logo.png", data: Buffer.from([0x89, 0x50, 0x4e, 0x47]) }],
    });
  }
  if (scenario === "mime") {
    const mime = "From: shop@mg.example.com\r\nTo: ann@example.com\r\nSubject: raw\r\n\r\nHello\r\n";
    return mg.messages.create(domain, { to: "ann@example.com", message: mime });
  }
  if (scenario === "events") {
    const first = await mg.events.get(domain, { limit: 2, event: "accepted" });
    // As mailgun.js's README pages: the `page` part it cut from the paging URL.
    const next = await mg.events.get(domain, { page: first.pages.next.page, limit: 2, event: "accepted" });
    return { first: first.items.length, next: next.items.length, pages: Object.keys(first.pages).sort() };
  }
  if (scenario === "templates") {
    // What a deploy script does: a template with a first version, a second one made active.
    await mg.domains.domainTemplates.create(domain, {
      name: "Receipt",
      description: "order receipt",
      template: "<p>Old {{name}}</p>",
      tag: "v1",
      headers: { Subject: "Receipt for {{name}}" },
    });
    const v2 = await mg.domains.domainTemplates.createVersion(domain, "receipt", {
      template:
        "<p>{{#if vip}}Dear VIP {{/if}}{{name}}</p><ul>{{#each items}}<li>{{this.sku}} x{{this.qty}}</li>{{/each}}</ul>" +
        "{{#equal plan 2}}<b>plan two</b>{{else}}<i>other plan</i>{{/equal}}",
      tag: "v2",
      active: "yes",
      headers: { Subject: "Receipt for {{name}}" },
    });
    const got = await mg.domains.domainTemplates.get(domain, "receipt", { active: "yes" });
    const list = await mg.domains.domainTemplates.list(domain);
    const versions = await mg.domains.domainTemplates.listVersions(domain, "receipt");
    const sent = await mg.messages.create(domain, {
      from: "shop@mg.example.com",
      to: ["ann@example.com"],
      template: "receipt",
      "t:variables": JSON.stringify({ name: "Ann", vip: true, items: [{ sku: "A1", qty: 2 }], plan: 2 }),
    });
    const byHeader = await mg.messages.create(domain, {
      from: "shop@mg.example.com",
      to: ["bob@example.com"],
      template: "receipt",
      "t:version": "v1",
      "h:X-Mailgun-Variables": JSON.stringify({ name: "Bob" }),
    });
    return {
      created: v2.status,
      active: got.version.tag,
      content: got.version.template,
      names: list.items.map((t) => t.name),
      tags: versions.template.versions.map((v) => v.tag),
      sent: sent.id,
      byHeader: byHeader.id,
    };
  }
  if (scenario === "bounce-flow") {
    // An app's bounce handling: a bounce, the list, a suppressed send, the cleanup, a delivery.
    const to = "bounce+js@example.com";
    const send = () => mg.messages.create(domain, { from: "shop@mg.example.com", to, subject: "s", text: "t" });
    const first = await send();
    const listed = await mg.suppressions.list(domain, "bounces");
    const second = await send();
    const removed = await mg.suppressions.destroy(domain, "bounces", to);
    await mg.suppressions.create(domain, "unsubscribes", [{ address: "gone@example.com", tags: ["news"] }]);
    const unsub = await mg.suppressions.get(domain, "unsubscribes", "gone@example.com");
    return {
      first: first.id,
      listed: listed.items.map((b) => b.address),
      second: second.id,
      removed: removed.message,
      unsubscribed: unsub.tags,
    };
  }
  if (scenario === "newsletter") {
    // A newsletter: a list, three members in one call (one unsubscribed), a send to the list.
    const list = "news@mg.example.com";
    await mg.lists.create({ address: list, name: "News", access_level: "readonly" });
    await mg.lists.members.createMembers(list, {
      members: [
        { address: "ann@example.com", name: "Ann", vars: { plan: "gold" } },
        { address: "bob@example.com", name: "Bob" },
        { address: "cy@example.com", name: "Cy", subscribed: false },
      ],
      upsert: "yes",
    });
    const members = await mg.lists.members.listMembers(list);
    const sent = await mg.messages.create(domain, {
      from: "shop@mg.example.com",
      to: list,
      subject: "Hello %recipient.name%",
      text: "Leave the list: %mailing_list_unsubscribe_url%",
    });
    return { members: members.items.map((m) => [m.address, m.subscribed]), sent: sent.id };
  }
  if (scenario === "routes") {
    // An app's inbound set-up: a route whose capture picks the region, forwarding to `extra`.
    const route = await mg.routes.create({
      priority: 3,
      description: "orders by region",
      expression: "match_recipient('^orders-(?P<region>[a-z]+)@shop\\.example\\.com$')",
      action: [`forward("${extra}?region=\\g<region>")`, "stop()"],
    });
    const listed = await mg.routes.list({ limit: 10 });
    const got = await mg.routes.get(route.id);
    const updated = await mg.routes.update(route.id, { priority: 2 });
    const matched = await mg.routes.matchAddress("orders-emea@shop.example.com");
    return {
      id: route.id,
      listed: listed.map((r) => r.id),
      got: got.expression,
      updated: updated.message,
      priority: (await mg.routes.get(route.id)).priority,
      matched: matched.id,
    };
  }
  if (scenario === "domains") {
    // A SaaS onboarding a customer's domain: create, verify, settings, SMTP login, send, remove.
    const name = "js-tenant.example.com";
    const created = await mg.domains.create({ name, smtp_password: "first-pw-1" });
    const verified = await mg.domains.verify(name);
    const listed = await mg.domains.list();
    await mg.domains.domainTracking.updateTracking(name, "open", { active: true });
    const tracking = await mg.domains.domainTracking.getTracking(name);
    await mg.domains.domainCredentials.create(name, { login: "smtp", password: "second-pw-2" });
    const credentials = await mg.domains.domainCredentials.list(name);
    const sent = await mg.messages.create(name, { from: `shop@${name}`, to: "ann@example.com", subject: "s", text: "t" });
    const destroyed = await mg.domains.destroy(name);
    return {
      created: created.state,
      verified: verified.state,
      records: verified.sending_dns_records.map((r) => r.record_type).sort(),
      listed: listed.map((d) => d.name),
      tracking: tracking.open.active,
      credentials: credentials.items.map((c) => c.login).sort(),
      sent: Boolean(sent.id),
      destroyed: destroyed.message,
    };
  }
  throw new Error(`unknown scenario ${scenario}`);
}

try {
  console.log(JSON.stringify(await run()));
} catch (error) {
  console.log(JSON.stringify({ error: error.type || error.name, status: error.status, details: error.details }));
}
