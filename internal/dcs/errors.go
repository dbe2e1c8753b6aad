package dcs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dcs-watcher/watcher/internal/retry"
)

// Error classes. Every error the client returns for a call matches exactly one
// of them with errors.Is, except a cancellation by the caller's own context,
// which matches context.Canceled and no class. The classes are what a poller
// decides on: forget the task, stop using the credential, slow down, retry, or
// keep the previous snapshot and report blindness.
var (
	// ErrGone: the task does not exist (HTTP 404 from DCS, or 400 DCS.4133).
	ErrGone = errors.New("task gone")
	// ErrAuth: the credential was refused (401, 403, APIGW.0301/0302/0307).
	// Retrying quickly locks the AK: back off hard.
	ErrAuth = errors.New("authentication refused")
	// ErrThrottled: the API gateway throttles the account (429, APIGW.0308).
	ErrThrottled = errors.New("throttled")
	// ErrRetryable: the API is unavailable for now (5xx, network error,
	// timeout).
	ErrRetryable = errors.New("api unavailable")
	// ErrBadResponse: the answer cannot be used (unparsable, oversized, wrong
	// shape, unexpected status).
	ErrBadResponse = errors.New("bad response")
	// ErrRequest: the API refused the request itself (other 4xx, e.g.
	// DCS.4070 invalid task id), or the client refused to send it.
	ErrRequest = errors.New("invalid request")
)

// Error codes with a meaning of their own.
const (
	codeTaskNotFound   = "DCS.4133"
	codeAuthIncorrect  = "APIGW.0301"
	codeAuthForbidden  = "APIGW.0302"
	codeTokenRefresh   = "APIGW.0307"
	codeThrottled      = "APIGW.0308"
	gatewayCodePrefix  = "APIGW."
	maxMessageInErrors = 200
)

// APIError describes a failed call. Class is one of the Err* sentinels (nil
// only for a cancellation by the caller); Err is the underlying cause when
// there is one (a network error, a decoding error). Message is the API's
// error_msg, cleaned of control characters and of the client's own
// credentials, and cut to 200 characters.
type APIError struct {
	Op         string // "show", "list", "stats" or "logs"
	TaskID     string // empty for list calls
	HTTPStatus int    // 0 when no response arrived
	Code       string // error_code of the body, e.g. "DCS.4133"
	Message    string // error_msg of the body
	RequestID  string // X-Request-Id, what Huawei support asks for
	RetryAfter time.Duration
	Class      error
	Err        error
}

// Error implements error. It names the call, the task, the HTTP status, the
// API's code and message and the request id; it never holds a credential, a
// password or any part of a response body other than error_msg.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("dcs ")
	b.WriteString(e.Op)
	if e.TaskID != "" {
		b.WriteString(" task ")
		b.WriteString(e.TaskID)
	}
	if c := Class(e); c != "" {
		b.WriteString(": ")
		b.WriteString(c)
	}
	if e.HTTPStatus != 0 {
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.HTTPStatus))
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.Message))
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteString(")")
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match the class and the cause.
func (e *APIError) Unwrap() []error {
	var errs []error
	if e.Class != nil {
		errs = append(errs, e.Class)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Class returns a short name of err's class for logs, metrics and events:
// "gone", "auth", "throttled", "unavailable", "bad_response", "request", or ""
// when err is nil or of no class.
func Class(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrGone):
		return "gone"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrThrottled):
		return "throttled"
	case errors.Is(err, ErrRetryable):
		return "unavailable"
	case errors.Is(err, ErrBadResponse):
		return "bad_response"
	case errors.Is(err, ErrRequest):
		return "request"
	}
	return ""
}

// classify sorts a non-2xx answer. A 404 is "gone" only on a task call and
// only when DCS answered it: the API gateway answers 404 APIGW.0101 for a path
// it does not know (a wrong endpoint), and reading that as "every task was
// deleted" would flood the watchers with false removals.
func classify(op string, status int, code string) error {
	switch code {
	case codeTaskNotFound:
		return ErrGone
	case codeAuthIncorrect, codeAuthForbidden, codeTokenRefresh:
		return ErrAuth
	case codeThrottled:
		return ErrThrottled
	}
	switch {
	case status == 404 && op == opShow && !strings.HasPrefix(code, gatewayCodePrefix):
		return ErrGone
	case status == 401 || status == 403:
		return ErrAuth
	case status == 429:
		return ErrThrottled
	case status >= 500:
		return ErrRetryable
	case status >= 400:
		return ErrRequest
	}
	return ErrBadResponse // 1xx, 3xx: not something this API answers
}

// retryAfter reads a Retry-After header; 0 when absent or unusable.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := retry.After(v, now)
	return d
}

// cleanMessage makes an API-supplied message safe for one log line: the given
// secrets are replaced, control characters dropped, the text cut to
// maxMessageInErrors runes.
func cleanMessage(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "<secret>")
		}
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(msg))
	if r := []rune(msg); len(r) > maxMessageInErrors {
		msg = string(r[:maxMessageInErrors]) + "..."
	}
	return msg
}

// apiErrorf is a shorthand for an error of the client itself (no response).
func apiErrorf(op, taskID string, class error, format string, args ...any) *APIError {
	return &APIError{Op: op, TaskID: taskID, Class: class, Err: fmt.Errorf(format, args...)}
}
