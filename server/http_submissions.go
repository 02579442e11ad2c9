package main

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
	"caregraph/submissions"
)

const (
	// maxUploadBody bounds a multipart GraphQL request: the largest file plus its form.
	maxUploadBody = submissions.MaxFileBytes + 1<<20
	// uploadMemory is how much of a multipart request is parsed in memory; the rest of
	// a file goes to a temporary file.
	uploadMemory = 32 << 20
)

// bodyLimit is the largest request body the gate reads: larger for a file upload
// (a multipart/form-data POST to /graphql) than for a JSON query.
func (a *app) bodyLimit(r *http.Request) int64 {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		return max(a.cfg.MaxBodyBytes, maxUploadBody)
	}
	return a.cfg.MaxBodyBytes
}

// submissionRoutes serves the downloads of a submission's files:
//
//	GET /submissions/{id}/original.csv   the file as uploaded, byte for byte
//	GET /submissions/{id}/annotated.csv  the file with a last column of each row's errors
//
// {id} is the submission's GraphQL id. They take the same bearer token as GraphQL, go
// through the same gate (rate limits) and the same Policy, and every download is
// recorded in the access log.
func (a *app) submissionRoutes(mux *http.ServeMux, instrument func(string, http.Handler) http.Handler) {
	mux.Handle("GET /submissions/{id}/{file}", instrument("submission_file", a.gate(http.HandlerFunc(a.serveSubmissionFile))))
}

func (a *app) serveSubmissionFile(w http.ResponseWriter, r *http.Request) {
	typeName, key, err := model.DecodeID(r.PathValue("id"))
	id, perr := strconv.ParseInt(key, 10, 64)
	if err != nil || perr != nil || typeName != "Submission" {
		http.Error(w, "not found: use the originalFileUrl or annotatedFileUrl of a Submission", http.StatusNotFound)
		return
	}
	p := auth.PrincipalFrom(r.Context())
	var f submissions.File
	switch r.PathValue("file") {
	case "original.csv":
		f, err = a.submissions.Original(r.Context(), p, id)
	case "annotated.csv":
		f, err = a.submissions.Annotated(r.Context(), p, id)
	default:
		http.Error(w, "not found: original.csv or annotated.csv", http.StatusNotFound)
		return
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="caregraph"`)
		http.Error(w, "sign in first (send Authorization: Bearer <token>)", http.StatusUnauthorized)
		return
	case errors.Is(err, auth.ErrForbidden):
		http.Error(w, strings.TrimPrefix(err.Error(), "forbidden: "), http.StatusForbidden)
		return
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, "no such submission", http.StatusNotFound)
		return
	case err != nil:
		a.logger.ErrorContext(r.Context(), "serve submission file", "submission_id", id, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	// Patient data: never kept by a browser or a proxy.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(f.Data)))
	if _, err := w.Write(f.Data); err != nil {
		a.logger.DebugContext(r.Context(), "write submission file", "error", fmt.Sprint(err))
	}
}
