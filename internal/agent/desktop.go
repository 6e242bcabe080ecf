package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/sink/popup"
)

// The freedesktop notification service (Desktop Notifications
// Specification 1.2).
const (
	busName    = "org.freedesktop.Notifications"
	objectPath = "/org/freedesktop/Notifications"
	iface      = "org.freedesktop.Notifications"
	actionRead = "mark-read"
	// actionOpen opens the web inbox; "default" is also what a server
	// invokes when the notification itself is clicked.
	actionOpen = "default"
)

// Urgency levels of the specification's "urgency" hint.
const (
	UrgencyLow      byte = 0
	UrgencyNormal   byte = 1
	UrgencyCritical byte = 2
)

// maxBody bounds the text put in one notification; the inbox has the rest.
const maxBody = 1000

// Notifier talks to the notification server.
type Notifier struct {
	conn *dbus.Conn
	obj  dbus.BusObject

	mu  sync.Mutex
	ids map[uint32]int64 // notification id -> message id; 0 for a backlog summary
}

// ErrNoSessionBus means the agent runs outside a desktop session.
var ErrNoSessionBus = errors.New("no D-Bus session bus (is DBUS_SESSION_BUS_ADDRESS set?)")

// Connect opens the session bus.
func Connect() (*Notifier, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSessionBus, err)
	}
	return &Notifier{conn: conn, obj: conn.Object(busName, objectPath), ids: map[uint32]int64{}}, nil
}

// Close closes the bus connection.
func (n *Notifier) Close() error { return n.conn.Close() }

// alertCategory is the notification category of alerts. The
// specification has no category for them, and "im.received" would have a
// server treat an alert as a chat message; a category of our own lets the
// user's server rules (dunst's `category = x-messenger.alert`) style
// alerts apart. Servers ignore categories they do not know.
const alertCategory = "x-messenger.alert"

// Urgency maps a message to the notification urgency: an alert's
// severity (info low, warning normal, critical critical), every other
// message normal. A resolved alert is the all-clear, so it is at most
// normal: a critical notification stays on screen until dismissed and
// would look as if the trouble were still on.
func Urgency(m message.Message) byte {
	if m.Alert == nil {
		return UrgencyNormal
	}
	u := UrgencyNormal
	switch m.Alert.Severity {
	case message.SeverityInfo:
		u = UrgencyLow
	case message.SeverityCritical:
		u = UrgencyCritical
	}
	if m.Alert.Status == message.AlertResolved {
		u = min(u, UrgencyNormal)
	}
	return u
}

// Summary and Body are what the notification shows: the classic header
// (with "(verified HOST)" after the sender of a message the hub proved)
// and the text, control characters made visible, the body escaped for
// servers that read markup. An alert's summary is its mark ("ALERT
// critical nut") and its title; the header's recipient and time are what
// a notification shows anyway.
func Summary(m message.Message) string {
	if m.Alert == nil {
		return popup.Header(m)
	}
	s := m.Alert.Label()
	if m.Alert.Title != "" {
		s += ": " + m.Alert.Title
	}
	return popup.OneLine(s)
}

// Body is the notification body of m.
func Body(m message.Message) string {
	// Cut before escaping, so that the cut never halves an escape.
	text := m.Text
	if r := []rune(text); len(r) > maxBody {
		text = string(r[:maxBody]) + "…"
	}
	text = popup.Printable(text)
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
}

// Notify shows m and remembers it for the "Mark read" action.
func (n *Notifier) Notify(ctx context.Context, m message.Message) error {
	_, err := n.NotifyID(ctx, m)
	return err
}

// Hints are the notification's hints: urgency and category.
func Hints(m message.Message) map[string]dbus.Variant {
	category := "im.received"
	if m.Alert != nil {
		category = alertCategory
	}
	return map[string]dbus.Variant{
		"urgency":  dbus.MakeVariant(Urgency(m)),
		"category": dbus.MakeVariant(category),
	}
}

// Icon is the notification's icon, a name from the freedesktop Icon
// Naming Specification: the dialog icon of an alert's severity (the
// information one once resolved), a new-mail icon for other messages.
func Icon(m message.Message) string {
	if m.Alert == nil {
		return "mail-message-new"
	}
	switch {
	case m.Alert.Status == message.AlertResolved || m.Alert.Severity == message.SeverityInfo:
		return "dialog-information"
	case m.Alert.Severity == message.SeverityCritical:
		return "dialog-error"
	}
	return "dialog-warning"
}

// NotifyID is Notify returning the server's notification id.
func (n *Notifier) NotifyID(ctx context.Context, m message.Message) (uint32, error) {
	var id uint32
	err := n.obj.CallWithContext(ctx, iface+".Notify", 0, "Messenger", uint32(0), Icon(m),
		Summary(m), Body(m), []string{actionRead, "Mark read"}, Hints(m), int32(-1)).Store(&id)
	if err != nil {
		return 0, fmt.Errorf("desktop: Notify: %w", err)
	}
	n.mu.Lock()
	n.ids[id] = m.ID
	n.mu.Unlock()
	return id, nil
}

// BacklogSummary is the summary of the notification for n unread messages.
func BacklogSummary(n int) string { return fmt.Sprintf("%d unread messages", n) }

// NotifyBacklog shows one notification for n unread messages, whose
// action (and a click on it) opens the web inbox, where they can be read
// and marked read together.
func (n *Notifier) NotifyBacklog(ctx context.Context, count int) (uint32, error) {
	var id uint32
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(UrgencyNormal), "category": dbus.MakeVariant("im.received")}
	err := n.obj.CallWithContext(ctx, iface+".Notify", 0, "Messenger", uint32(0), "mail-message-new",
		BacklogSummary(count), "Open the inbox to read them.", []string{actionOpen, "Open inbox"}, hints, int32(-1)).Store(&id)
	if err != nil {
		return 0, fmt.Errorf("desktop: Notify: %w", err)
	}
	n.mu.Lock()
	n.ids[id] = 0
	n.mu.Unlock()
	return id, nil
}

// Actions calls markRead for each message whose "Mark read" action the
// user invokes, and openInbox when the user opens a backlog summary,
// until ctx ends.
func (n *Notifier) Actions(ctx context.Context, markRead func(id int64), openInbox func()) error {
	if err := n.conn.AddMatchSignalContext(ctx, dbus.WithMatchInterface(iface), dbus.WithMatchObjectPath(objectPath)); err != nil {
		return fmt.Errorf("desktop: subscribing to notification signals: %w", err)
	}
	ch := make(chan *dbus.Signal, 64)
	n.conn.Signal(ch)
	defer n.conn.RemoveSignal(ch)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case sig, ok := <-ch:
			if !ok {
				return errors.New("desktop: session bus closed")
			}
			switch sig.Name {
			case iface + ".ActionInvoked":
				var nid uint32
				var action string
				if dbus.Store(sig.Body, &nid, &action) != nil {
					continue
				}
				n.mu.Lock()
				id, ok := n.ids[nid]
				n.mu.Unlock()
				switch {
				case !ok:
				case id == 0 && action == actionOpen:
					openInbox()
				case id != 0 && action == actionRead:
					markRead(id)
				}
			case iface + ".NotificationClosed":
				var nid uint32
				if dbus.Store(sig.Body[:min(1, len(sig.Body))], &nid) == nil {
					n.mu.Lock()
					delete(n.ids, nid)
					n.mu.Unlock()
				}
			}
		}
	}
}
