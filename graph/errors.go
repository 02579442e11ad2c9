package graph

import (
	"context"
	"errors"
	"log/slog"

	"caregraph/auth"
	"caregraph/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error codes carried in extensions.code.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL"
	CodeTooComplex      = "QUERY_TOO_COMPLEX"
)

// inputError is a problem with the caller's arguments, shown to the caller as it is.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

// badInput returns an error reported as BAD_USER_INPUT.
func badInput(msg string) error { return &inputError{msg: msg} }

// ErrorPresenter turns resolver errors into GraphQL errors with extensions.code. Internal
// errors are logged here, once, and the client gets no detail beyond the code.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		if _, set := gqlErr.Extensions["code"]; set {
			return gqlErr
		}
		var in *inputError
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			gqlErr.Extensions["code"] = CodeUnauthenticated
		case errors.Is(err, auth.ErrForbidden):
			gqlErr.Extensions["code"] = CodeForbidden
		case errors.As(err, &in), errors.Is(err, auth.ErrBadInput):
			gqlErr.Extensions["code"] = CodeBadUserInput
		case errors.Is(err, store.ErrNotFound):
			gqlErr.Extensions["code"] = CodeNotFound
		case errors.Is(err, store.ErrConflict):
			gqlErr.Extensions["code"] = CodeConflict
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			gqlErr.Message = "the request took too long and was cancelled"
			gqlErr.Extensions["code"] = CodeInternal
		default:
			var ge *gqlerror.Error
			if errors.As(err, &ge) && ge.Rule != "" {
				// Validation errors from the parser already speak to the caller.
				gqlErr.Extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
				return gqlErr
			}
			logger.ErrorContext(ctx, "graphql resolver failed", "path", gqlErr.Path.String(), "error", err)
			gqlErr.Message = "internal error"
			gqlErr.Extensions["code"] = CodeInternal
		}
		return gqlErr
	}
}

// RecoverFunc turns a resolver panic into an INTERNAL error; the panic is logged, never
// sent to the client.
func RecoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "graphql resolver panicked", "panic", p)
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	}
}
