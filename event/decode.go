package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Errors of Decode, for errors.Is: a body that is no event of this
// contract (ErrMalformed), or one of a major version this package does not
// read (ErrVersion). Neither gets better with a redelivery: terminate the
// message (jetstream.Msg.Term) or park it, do not retry it.
var (
	ErrMalformed = errors.New("malformed event")
	ErrVersion   = errors.New("unsupported event version")
)

// Decode reads the body of a message of the stream. It is lenient where
// the schema may grow (see the package doc): unknown fields are ignored,
// and an unknown kind, status or outcome is kept as it is for the caller
// to skip. It is strict where a consumer would otherwise act on a wrong
// reading: the body must be a JSON object of CloudEvents 1.0 with an id, a
// type of this contract in Version, and data whose kind agrees with the
// type. The error says what is wrong and where (the JSON path of a field
// of the wrong type).
func Decode(body []byte) (Envelope, error) {
	var env Envelope
	if len(body) == 0 {
		return env, fmt.Errorf("%w: empty message body", ErrMalformed)
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if err := check(&env); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// check holds env to what Decode promises.
func check(env *Envelope) error {
	where := "event"
	if env.ID != "" {
		where = "event " + env.ID
	}
	switch {
	case env.SpecVersion != SpecVersion:
		return fmt.Errorf("%w: %s: specversion %q, want %q", ErrMalformed, where, env.SpecVersion, SpecVersion)
	case env.ID == "":
		return fmt.Errorf("%w: %s: no id", ErrMalformed, where)
	case !strings.HasPrefix(env.Type, TypePrefix):
		return fmt.Errorf("%w: %s: type %q is not a DCS migration event (%s<kind>.%s)", ErrMalformed, where, env.Type, TypePrefix, Version)
	}
	kind, version, ok := strings.Cut(strings.TrimPrefix(env.Type, TypePrefix), ".")
	switch {
	case !ok || kind == "":
		return fmt.Errorf("%w: %s: type %q has no <kind>.<version>", ErrMalformed, where, env.Type)
	case version != Version:
		return fmt.Errorf("%w: %s: type %q is version %s, this package reads %s", ErrVersion, where, env.Type, version, Version)
	case env.Data.Kind == "":
		return fmt.Errorf("%w: %s: data.kind is missing", ErrMalformed, where)
	case string(env.Data.Kind) != kind:
		return fmt.Errorf("%w: %s: data.kind %q disagrees with type %q", ErrMalformed, where, env.Data.Kind, env.Type)
	}
	return nil
}

// jsonProblem says where a JSON body went wrong.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %s: a JSON %s where %s belongs", typ.Field, typ.Value, typ.Type)
	case errors.As(err, &typ):
		return fmt.Sprintf("the body is a JSON %s, not an object", typ.Value)
	}
	return "not JSON: " + err.Error()
}
