package ipp

import (
	"errors"
	"fmt"
	"io"
)

// MaxStreamMessage is the largest message Reader takes from a stream. An
// event from cupsd is well under 2 KiB (its notify-text is at most 1023
// bytes); a message that grows past this is not one.
const MaxStreamMessage = 64 << 10

// Reader splits a stream of consecutive IPP messages, such as cupsd
// writes on a notifier's standard input, into Messages. IPP has no
// outer framing: a message ends at its end-of-attributes tag, so the
// reader decodes what it has and reads more while the decoder runs short.
type Reader struct {
	r   io.Reader
	buf []byte // buf[start:] is read but not yet decoded
	eof bool
	err error
}

// NewReader returns a Reader taking messages from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Next returns the next message. It returns io.EOF when the stream ends
// between messages and an error wrapping ErrShort when it ends inside
// one. After a malformed message the stream has lost its framing, so
// every later call returns the same error.
func (r *Reader) Next() (Message, error) {
	if r.err != nil {
		return Message{}, r.err
	}
	for {
		if len(r.buf) > 0 {
			m, n, err := Decode(r.buf)
			if err == nil {
				r.buf = r.buf[n:]
				if len(r.buf) == 0 {
					r.buf = nil // lets the backing array go between events
				}
				return m, nil
			}
			if !errors.Is(err, ErrShort) || r.eof {
				r.err = err
				return Message{}, err
			}
			if len(r.buf) >= MaxStreamMessage {
				r.err = fmt.Errorf("ipp: message longer than %d bytes: %w", MaxStreamMessage, ErrLimit)
				return Message{}, r.err
			}
		} else if r.eof {
			r.err = io.EOF
			return Message{}, io.EOF
		}
		if err := r.fill(); err != nil {
			r.err = err
			return Message{}, err
		}
	}
}

// fill reads once more into buf, never past MaxStreamMessage unread
// bytes: buf's capacity never exceeds it.
func (r *Reader) fill() error {
	if cap(r.buf)-len(r.buf) < 512 {
		grown := make([]byte, len(r.buf), min(max(2*cap(r.buf), 4096), MaxStreamMessage))
		copy(grown, r.buf)
		r.buf = grown
	}
	n, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	switch {
	case errors.Is(err, io.EOF):
		r.eof = true
	case err != nil:
		return fmt.Errorf("ipp: reading: %w", err)
	}
	return nil
}
