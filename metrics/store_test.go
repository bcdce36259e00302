package metrics

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"countersign/store"
	"countersign/store/sqlite"
)

// Store embeds store.Store, so a method added to the interface passes
// through untimed rather than breaking the build; this test names it.
func TestStoreTimesEveryMethod(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "store.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	timed := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if ok && fn.Recv != nil && fn.Name.IsExported() {
			timed[fn.Name.Name] = true
		}
	}
	iface := reflect.TypeFor[store.Store]()
	var missing []string
	for i := range iface.NumMethod() {
		if name := iface.Method(i).Name; name != "Close" && !timed[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("store methods not timed (add them to metrics/store.go): %s", strings.Join(missing, ", "))
	}
}

func TestStoreCountsResults(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := New()
	w := WrapStore(st, m)
	if _, err := w.GetOrg(ctx, "or-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOrg of a missing org: %v", err)
	}
	if _, err := w.ListOrgs(ctx); err != nil {
		t.Fatal(err)
	}
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "countersign_store_operations_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[strings.Join(labels, ",")] = s.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"op=GetOrg,result=not_found": 1, "op=ListOrgs,result=ok": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("store_operations_total = %v, want %v", got, want)
	}
}
