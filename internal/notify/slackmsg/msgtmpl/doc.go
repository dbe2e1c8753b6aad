// Package msgtmpl holds what Slack messages are written from: the data
// model a message template sees (MessageData, GroupData), the template
// functions, the built-in default templates and the loading of a
// template file that overrides some of them. Templates write the texts of
// a message, one named template per text ("header", "fields", "reason",
// ...); the Slack notifier assembles the texts into Block Kit blocks and
// enforces Slack's limits, so a template cannot produce invalid JSON or an
// oversized block. Every string of the data is escaped for the context
// its template renders in (mrkdwn, or plain_text for headers), so a
// template cannot forget to escape text from the API. The package depends
// on the standard library only, so that config can check a template file
// when it loads.
package msgtmpl
