package proxmoxvebridge

import "regexp"

// Redact removes PVE credentials from a log line: what bpg's HTTP logging (terraform-plugin-sdk
// helper/logging NewLoggingHTTPTransport, on at TF_LOG=DEBUG or TRACE) writes for every request
// and response, as hclog fields, their quotes escaped or not:
//
//   - Authorization: PVEAPIToken=USER!TOKENID=SECRET  (the secret goes, the token's name stays)
//   - Cookie: PVEAuthCookie=TICKET, and tickets anywhere (the /access/ticket answer)
//   - CSRFPreventionToken (header and JSON field)
//   - password in the login body (JSON or form) and anywhere else
//
// Formats from PVE's source: tickets are "PVE:user:HEX8::signature" and CSRF tokens
// "HEX8:digest" (pve-common src/PVE/Ticket.pm assemble_rsa_ticket and
// assemble_csrf_prevention_token); API token secrets are UUIDs (pve-access-control
// src/PVE/TokenConfig.pm generate_token, UUID::uuid()). An operator sets TF_LOG to debug;
// the log must still be safe to paste into an issue.
func Redact(line string) string {
	for _, r := range redactions {
		line = r.pattern.ReplaceAllString(line, r.replacement)
	}
	return line
}

const redacted = "[REDACTED]"

// A value ends at whitespace, a quote, an escaped quote's backslash, or a separator.
const value = `[^\s"'\\,;&]+`

type redaction struct {
	pattern     *regexp.Regexp
	replacement string
}

var redactions = []redaction{
	// PVEAPIToken=root@pam!ci=SECRET (the Authorization header) and USER!TOKENID=UUID anywhere.
	{regexp.MustCompile(`(PVEAPIToken=[^\s"'\\!]+![^\s"'\\=]+=)` + value), "${1}" + redacted},
	{regexp.MustCompile(`(![A-Za-z][A-Za-z0-9._-]*=)[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`),
		"${1}" + redacted},
	// Tickets: PVE:root@pam:6707A0B3::base64 (also PVEVNC/PVETERM), in cookies and JSON alike.
	{regexp.MustCompile(`PVE(?:VNC|TERM)?:[^\s:"'\\]+:[0-9A-Fa-f]{8}::` + value), redacted},
	{regexp.MustCompile(`(PVEAuthCookie=)` + value), "${1}" + redacted},
	// CSRFPreventionToken: header (Csrfpreventiontoken="...") or JSON ("CSRFPreventionToken":"...").
	{regexp.MustCompile(`(?i)(csrfpreventiontoken(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)` + value), "${1}" + redacted},
	// Passwords: "password":"..." (JSON), password=... (form), Password="..." (fields).
	{regexp.MustCompile(`(?i)(password(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)` + value), "${1}" + redacted},
}
