package notice

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/netsend/messenger/internal/message"
)

// The environment clamd gives its VirusEvent command, per clamd.conf(5)
// ("VirusEvent COMMAND: Execute a command when virus is found. Use the
// following environment variables to identify the file and virus names:
// $CLAM_VIRUSEVENT_FILENAME, $CLAM_VIRUSEVENT_VIRUSNAME"). clamd runs the
// command with /bin/sh -c, with these two and PATH as the whole
// environment, and waits for it (clamd/clamd_others.c, virusaction()).
const (
	ClamAVFileVar  = "CLAM_VIRUSEVENT_FILENAME"
	ClamAVVirusVar = "CLAM_VIRUSEVENT_VIRUSNAME"
)

// FromClamAV reads a clamd VirusEvent: a critical alert with no resolved
// state, titled "Virus found: NAME", whose text names the virus and the
// file, and whose key is the virus and the file (a rescan finding the
// same file again is a repeat). File and virus names are shown through
// escapeName: a file name may hold any byte, and one that is not UTF-8,
// breaks the line or reorders it must still be shown for what it is.
func FromClamAV(getenv func(string) string) (Notice, error) {
	file, virus := getenv(ClamAVFileVar), getenv(ClamAVVirusVar)
	var missing []error
	if file == "" {
		missing = append(missing, fmt.Errorf("clamav: %s is not set; clamd sets it for VirusEvent", ClamAVFileVar))
	}
	if virus == "" {
		missing = append(missing, fmt.Errorf("clamav: %s is not set; clamd sets it for VirusEvent", ClamAVVirusVar))
	}
	if err := errors.Join(missing...); err != nil {
		return Notice{}, err
	}
	virus, file = escapeName(virus), escapeName(file)

	const head = "clamd found a virus.\nVirus: "
	shownVirus := cut(virus, message.MaxAlertTitleLen)
	room := message.MaxTextLen - utf8.RuneCountInString(head) - utf8.RuneCountInString(shownVirus) - len("\nFile: ")
	return finish(Notice{
		Alert: message.Alert{
			Source:   SourceClamAV,
			Severity: message.SeverityCritical,
			Title:    cut("Virus found: "+virus, message.MaxAlertTitleLen),
			Key:      key("clamav:", virus+":"+file),
		},
		Text: head + shownVirus + "\nFile: " + cut(file, room),
	})
}
