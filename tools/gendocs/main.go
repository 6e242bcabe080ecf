// Command gendocs writes what the Debian package ships besides the binary
// and the files in packaging/: man pages and shell completions generated
// from the command tree, messenger.toml(5) from docs/configuration.md, the
// commented configuration file from the embedded defaults, and the Debian
// changelog. scripts/package.sh runs it:
//
//	go run ./tools/gendocs -out DIR -version V -date UNIXTIME
//
// Everything it writes is reproducible: dates come from -date (the
// commit's), gzip headers carry no name or time.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/netsend/messenger/internal/cli"
	"github.com/netsend/messenger/internal/config"
)

func main() {
	out := flag.String("out", "dist/gen", "directory to write into")
	version := flag.String("version", "", "package version (required)")
	date := flag.Int64("date", 0, "Unix time of the build's commit (0: now)")
	configDoc := flag.String("config-doc", "docs/configuration.md", "configuration reference to make messenger.toml(5) from")
	maintainer := flag.String("maintainer", "Messenger developers <maintainers@netsend.example>", "changelog trailer's maintainer")
	flag.Parse()
	if *version == "" {
		fatal(fmt.Errorf("-version is required"))
	}
	when := time.Now().UTC()
	if *date != 0 {
		when = time.Unix(*date, 0).UTC()
	}
	steps := []func() error{
		func() error { return manPages(filepath.Join(*out, "man1"), *version, when) },
		func() error { return completions(filepath.Join(*out, "completions")) },
		func() error { return configManPage(*configDoc, filepath.Join(*out, "man5"), *version, when) },
		func() error { return configFile(filepath.Join(*out, "messenger.toml")) },
		func() error {
			return changelog(filepath.Join(*out, "changelog.Debian.gz"), *version, *maintainer, when)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "gendocs:", err)
	os.Exit(1)
}

// root is the command tree as the binary has it, without cobra's footer
// (which would name the generator and a date in every page).
func root() *cobra.Command {
	cmd := cli.Command()
	cmd.DisableAutoGenTag = true
	return cmd
}

// manPages writes messenger.1 and one page per verb (messenger-serve.1,
// messenger-config-print.1, …), gzipped.
func manPages(dir, version string, when time.Time) error {
	tmp, err := os.MkdirTemp("", "gendocs-man")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	hdr := &doc.GenManHeader{
		Section: "1",
		Source:  "messenger " + version,
		Manual:  "Messenger Manual",
		Date:    &when,
	}
	if err := doc.GenManTree(root(), hdr, tmp); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pages, err := filepath.Glob(filepath.Join(tmp, "*.1"))
	if err != nil {
		return err
	}
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := writeGzip(filepath.Join(dir, filepath.Base(p)+".gz"), data); err != nil {
			return err
		}
	}
	return nil
}

// completions writes the bash, zsh and fish completion scripts.
func completions(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var bash, zsh, fish bytes.Buffer
	cmd := root()
	if err := cmd.GenBashCompletionV2(&bash, true); err != nil {
		return err
	}
	if err := cmd.GenZshCompletion(&zsh); err != nil {
		return err
	}
	if err := cmd.GenFishCompletion(&fish, true); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"messenger.bash": bash.Bytes(), "_messenger": zsh.Bytes(), "messenger.fish": fish.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var (
	mdLink    = regexp.MustCompile(`\[([^\]]+)\]\(([^)]+)\)`)
	tableRule = regexp.MustCompile(`^\|(\s*:?-+:?\s*\|)+\s*$`)
)

// configManPage turns the configuration reference into messenger.toml(5).
// Its tables become tagged paragraphs (a four-column table does not fit a
// terminal), links to other pages become their text, and a NAME and
// SYNOPSIS section come first, as man pages have them.
func configManPage(src, dir, version string, when time.Time) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "%% MESSENGER.TOML 5 %q %q \"Messenger Manual\"\n\n", when.Format("Jan 2006"), "messenger "+version)
	md.WriteString("# NAME\n\nmessenger.toml - configuration file of the Messenger service\n\n")
	md.WriteString("# SYNOPSIS\n\n/etc/messenger/messenger.toml\n\n")
	md.WriteString("# DESCRIPTION\n\n")
	var header []string // the current table's header cells
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		switch {
		case first && strings.HasPrefix(line, "# "):
			first = false
			continue // the title: NAME says it
		case strings.HasPrefix(line, "[Back to the README]"):
			continue
		case tableRule.MatchString(line):
			continue
		case strings.HasPrefix(line, "|"):
			cells := splitRow(line)
			if header == nil {
				header = cells
				continue
			}
			md.WriteString(tableEntry(header, cells))
			continue
		}
		header = nil
		line = mdLink.ReplaceAllStringFunc(line, func(m string) string {
			sub := mdLink.FindStringSubmatch(m)
			text, target := sub[1], sub[2]
			if strings.HasPrefix(target, "http") {
				return text + " <" + target + ">"
			}
			return text
		})
		md.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return err
	}
	md.WriteString("\n# FILES\n\n/etc/messenger/messenger.toml: read by the daemon and, as root, by every verb; its keys are listed, commented out with their defaults, in the file the package installs.\n\n")
	md.WriteString("# SEE ALSO\n\n**messenger**(1), **messenger-serve**(1), **messenger-config-print**(1)\n")
	roff := md2man.Render([]byte(md.String()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeGzip(filepath.Join(dir, "messenger.toml.5.gz"), roff)
}

// splitRow splits a Markdown table row into its cells; a `|` inside a
// code span does not split.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	code := false
	for _, r := range line {
		switch {
		case r == '`':
			code = !code
		case r == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// tableEntry writes one table row as a definition: the first cell is the
// term, the others follow as "header: cell", the last one as the text.
func tableEntry(header, cells []string) string {
	var b strings.Builder
	b.WriteString(cells[0] + "\n")
	var parts []string
	for i := 1; i < len(cells)-1 && i < len(header); i++ {
		if c := cells[i]; c != "" && c != "—" {
			parts = append(parts, capitalize(header[i])+": "+c+".")
		}
	}
	text := capitalize(cells[len(cells)-1])
	if len(parts) > 0 {
		text = strings.Join(parts, " ") + " " + text
	}
	b.WriteString(": " + text + "\n\n")
	return b.String()
}

// capitalize upper-cases s's first letter, unless s starts with code.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// configFile writes /etc/messenger/messenger.toml: every key of the
// embedded defaults, as `messenger config print` shows them, commented
// out. Lines that are comments even when the keys are uncommented start
// with "##"; with "# " taken off every line the file must load and
// validate, which is checked here.
func configFile(path string) error {
	cfg := config.Default()
	cfg.DataDir = "/var/lib/messenger" // root's, whoever builds
	const hostPlaceholder = "HOSTNAME"
	cfg.HostName = hostPlaceholder
	enc, err := cfg.Encode()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(`## /etc/messenger/messenger.toml: settings of the Messenger service.
##
## Every key is listed below, commented out, with its built-in default:
## the file as installed changes nothing. Take the "# " off a line (and
## off its [table] header) to change a setting, then
##   systemctl restart messenger      (messenger spam reload: [policy] only)
##   messenger config print           shows what is in force
## Flags of "messenger serve" and MESSENGER_* variables beat this file.
## Every key is explained in messenger.toml(5).

`)
	sc := bufio.NewScanner(bytes.NewReader(enc))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			b.WriteString("\n")
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "host_name =") {
			b.WriteString("## host_name: by default this machine's host name, upper-cased.\n")
		}
		b.WriteString("# " + line + "\n")
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// Uncommented, the file must be a valid configuration.
	var plain strings.Builder
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		plain.WriteString(strings.TrimPrefix(line, "# "))
	}
	tmp, err := os.CreateTemp("", "gendocs-*.toml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(plain.String()); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	loaded, err := config.Load(tmp.Name(), true)
	if err != nil {
		return fmt.Errorf("the generated messenger.toml, uncommented, does not load: %w", err)
	}
	if err := loaded.Validate(); err != nil {
		return fmt.Errorf("the generated messenger.toml, uncommented, is invalid: %w", err)
	}
	if loaded.HostName != hostPlaceholder || loaded.SMBPort != cfg.SMBPort {
		return fmt.Errorf("the generated messenger.toml, uncommented, lost its keys")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// changelog writes the Debian changelog: one entry, for this version.
func changelog(path, version, maintainer string, when time.Time) error {
	text := fmt.Sprintf(`messenger (%s) unstable; urgency=medium

  * Package built from the upstream sources by scripts/package.sh.
    The upstream history is in the project's git log.

 -- %s  %s
`, version, maintainer, when.Format(time.RFC1123Z))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeGzip(path, []byte(text))
}

// writeGzip writes data gzipped at the best compression, with no name or
// time in the header (as gzip -9n does), so builds are reproducible.
func writeGzip(path string, data []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
