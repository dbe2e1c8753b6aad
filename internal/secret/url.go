package secret

import (
	"errors"
	"net/url"
)

// URLCause is err without the *url.Error that net/http wraps every failed
// request in, whose text quotes the whole URL (a webhook's path, a ping
// URL's token, a query): its cause ("connection refused", a timeout,
// "stopped after 10 redirects"), which says what went wrong and nothing
// of where. An err that holds no *url.Error is returned as it is.
func URLCause(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
