% rebase('base', title='Songs')
<h1>Songs</h1>
<form method="get" action="/" class="search" role="search">
  <div class="field{{' invalid' if 'q' in errors else ''}}">
    <label for="q">Search artist or title</label>
    <input id="q" name="q" type="search" value="{{query.get('q', '')}}" minlength="3" maxlength="500"{{!' aria-invalid="true" aria-describedby="q-error"' if 'q' in errors else ''}}>
% if 'q' in errors:
    <p class="error" id="q-error">The search {{errors['q']}}.</p>
% end
  </div>
  <div class="field{{' invalid' if 'rating' in errors else ''}}">
    <label for="rating-filter">Rating</label>
    <select id="rating-filter" name="rating"{{!' aria-invalid="true" aria-describedby="rating-error"' if 'rating' in errors else ''}}>
      <option value="">Any rating</option>
% for rating in ('5', '4', '3', '2', '1'):
      <option value="{{rating}}"{{!' selected' if query.get('rating') == rating else ''}}>{{rating}}</option>
% end
    </select>
% if 'rating' in errors:
    <p class="error" id="rating-error">The rating {{errors['rating']}}.</p>
% end
  </div>
  <div class="field size">
    <label for="limit">Songs a page</label>
    <select id="limit" name="limit">
% for size in ('25', '50', '100', '200'):
      <option value="{{'' if size == '100' else size}}"{{!' selected' if query.get('limit', '100') == size else ''}}>{{size}}</option>
% end
    </select>
  </div>
  <button type="submit">Find</button>
% more = ('artist', 'min_rating', 'max_rating', 'created_after', 'created_before')
<details class="filters"{{!' open' if any(name in query or name in errors for name in more) else ''}}>
  <summary>More filters</summary>
  <div class="field{{' invalid' if 'artist' in errors else ''}}">
    <label for="artist">Artist</label>
    <input id="artist" name="artist" value="{{query.get('artist', '')}}" maxlength="500"{{!' aria-invalid="true" aria-describedby="artist-error"' if 'artist' in errors else ''}}>
%   if 'artist' in errors:
    <p class="error" id="artist-error">The artist {{errors['artist']}}.</p>
%   end
  </div>
% for name, label in (('min_rating', 'Lowest rating'), ('max_rating', 'Highest rating')):
  <div class="field{{' invalid' if name in errors else ''}}">
    <label for="{{name}}">{{label}}</label>
    <select id="{{name}}" name="{{name}}"{{!f' aria-invalid="true" aria-describedby="{name}-error"' if name in errors else ''}}>
      <option value="">Any</option>
%   for rating in ('5', '4', '3', '2', '1'):
      <option value="{{rating}}"{{!' selected' if query.get(name) == rating else ''}}>{{rating}}</option>
%   end
    </select>
%   if name in errors:
    <p class="error" id="{{name}}-error">{{label}}: {{errors[name]}}.</p>
%   end
  </div>
% end
% for name, label in (('created_after', 'Added from'), ('created_before', 'Added until')):
  <div class="field{{' invalid' if name in errors else ''}}">
    <label for="{{name}}">{{label}} (UTC)</label>
    <input id="{{name}}" name="{{name}}" type="date" value="{{day(name, query[name]) if name in query else ''}}"{{!f' aria-invalid="true" aria-describedby="{name}-error"' if name in errors else ''}}>
%   if name in errors:
    <p class="error" id="{{name}}-error">{{label}}: {{errors[name]}}.</p>
%   end
  </div>
% end
</details>
% for name, value in query.items():
%   if name not in ('q', 'rating', 'cursor', 'limit', *more):
  <input type="hidden" name="{{name}}" value="{{value}}">
%   end
% end
</form>
% others = sorted(set(errors) - {'q', 'rating', *more})
% if others:
<div class="error" role="alert">
%   for name in others:
  <p>{{errors[name] if name == 'query' else f'{name} {errors[name]}.'}}</p>
%   end
  <p><a href="/">Start again with every song</a></p>
</div>
% end
% if listed:
%   counts = listed['counts']
%   total = sum(counts.values())
%   widest = max(counts.values(), default=0) or 1
%   shown, of = format(listed['shown'], ','), format(total, ',')
<div class="overview">
%   if not total:
<p class="summary">No songs match.</p>
%   elif not listed['previous']:
<p class="summary">Songs 1–{{shown}} of {{of}}.</p>
%   else:
<p class="summary">Showing {{shown}} of {{of}} songs.</p>
%   end
<details class="chart">
  <summary>Matching songs by rating</summary>
  <table>
    <caption class="visually-hidden">Matching songs by rating</caption>
    <thead><tr><th scope="col">Rating</th><th scope="col">Songs</th><th scope="col"><span class="visually-hidden">Share</span></th></tr></thead>
    <tbody>
%   for rating in (5, 4, 3, 2, 1):
%     count = counts.get(rating, 0)
      <tr><th scope="row">{{rating}}</th><td>{{format(count, ',')}}</td><td class="bar"><svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect width="{{format(100 * count / widest, '.1f')}}" height="10"></rect></svg></td></tr>
%   end
    </tbody>
  </table>
</details>
</div>
% end
% if selecting:
<form method="post" action="/songs/selected" class="selection">
<input type="hidden" name="csrf_token" value="{{csrf()}}">
<input type="hidden" name="back" value="{{listed['here']}}">
<fieldset class="actions">
  <legend>With the selected songs</legend>
  <label class="all"><input type="checkbox" name="all" value="1"> Select all on this page</label>
  <button type="submit" name="action" value="delete">Delete…</button>
  <label for="bulk-rating">New rating</label>
  <select id="bulk-rating" name="rating">
% for rating in ('5', '4', '3', '2', '1'):
    <option value="{{rating}}">{{rating}}</option>
% end
  </select>
  <button type="submit" name="action" value="rate">Set rating</button>
</fieldset>
% end
<div class="table">
<table class="songs">
  <caption class="visually-hidden">Songs{{', newest first' if listed and listed['default_sort'] else ''}}</caption>
  <thead>
    <tr>
% if selecting:
      <th scope="col"><span class="visually-hidden">Selected</span></th>
% end
% for field, label in columns:
%   sorted_by = listed and listed['sort'][0] == field
%   order = ('descending' if listed['sort'][1] else 'ascending') if sorted_by else None
      <th scope="col"{{!' aria-sort="%s"' % order if order else ''}}>
%   if listed:
        <a href="{{listed['sort_links'][field]}}">{{label}}<span class="visually-hidden">, sort {{'descending' if order == 'ascending' else 'ascending'}}</span>{{!' <span aria-hidden="true">▲</span>' if order == 'ascending' else ' <span aria-hidden="true">▼</span>' if order == 'descending' else ''}}</a>
%   else:
        {{label}}
%   end
      </th>
% end
    </tr>
  </thead>
  <tbody>
    {{!rows}}
% if not rows:
    <tr><td colspan="{{len(columns) + int(selecting)}}">No songs match.</td></tr>
% end
  </tbody>
</table>
</div>
% if selecting:
</form>
% end
% if listed:
<nav class="pages" aria-label="Pages">
%   if listed['first']:
  <a href="{{listed['first']}}">{{'Newest songs' if listed['default_sort'] else 'First page'}}</a>
%   end
%   if listed['previous']:
  <a href="{{listed['previous']}}" rel="prev">{{'Newer songs' if listed['default_sort'] else 'Previous page'}}</a>
%   end
%   if listed['next']:
  <a href="{{listed['next']}}" rel="next">{{'Older songs' if listed['default_sort'] else 'Next page'}}</a>
%   end
</nav>
<p class="formats">This list as <a href="{{listed['as_json']}}">JSON</a>, <a href="{{listed['as_csv']}}">CSV</a> or <a href="{{listed['as_ndjson']}}">NDJSON</a>.</p>
% end
