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
% for name, value in query.items():
%   if name not in ('q', 'rating', 'cursor'):
  <input type="hidden" name="{{name}}" value="{{value}}">
%   end
% end
  <button type="submit">Find</button>
</form>
% others = sorted(set(errors) - {'q', 'rating'})
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
<p class="summary">{{format(total, ',')}} {{'song matches' if total == 1 else 'songs match'}}.</p>
<figure class="chart">
  <figcaption>Matching songs by rating</figcaption>
  <table>
    <thead><tr><th scope="col">Rating</th><th scope="col">Songs</th><th scope="col"><span class="visually-hidden">Share</span></th></tr></thead>
    <tbody>
%   for rating in (5, 4, 3, 2, 1):
%     count = counts.get(rating, 0)
      <tr><th scope="row">{{rating}}</th><td>{{format(count, ',')}}</td><td class="bar"><svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect width="{{format(100 * count / widest, '.1f')}}" height="10"></rect></svg></td></tr>
%   end
    </tbody>
  </table>
</figure>
% end
<div class="table">
<table class="songs">
  <caption class="visually-hidden">Songs{{', newest first' if listed and listed['default_sort'] else ''}}</caption>
  <thead>
    <tr>
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
    <tr><td colspan="4">No songs match.</td></tr>
% end
  </tbody>
</table>
</div>
% if listed:
<nav class="pages" aria-label="Pages">
%   if listed['first']:
  <a href="{{listed['first']}}">{{'Newer first' if listed['default_sort'] else 'First page'}}</a>
%   end
%   if listed['next']:
  <a href="{{listed['next']}}" rel="next">{{'Older songs' if listed['default_sort'] else 'Next page'}}</a>
%   end
</nav>
<p class="formats">This list as <a href="{{listed['as_json']}}">JSON</a>, <a href="{{listed['as_csv']}}">CSV</a> or <a href="{{listed['as_ndjson']}}">NDJSON</a>.</p>
% end
