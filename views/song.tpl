% rebase('base', title=song['title'])
<h1>{{song['title']}}</h1>
% if get('back'):
<p><a href="{{back}}">Back to the list</a></p>
% end
<div class="edit">
<section class="times" aria-label="When">
<dl class="song">
% for field in fields:
%   if field.kind == "time":
  <dt>{{field.label}}</dt><dd><time datetime="{{song[field.name]}}">{{song[field.name][:16].replace('T', ' ')}} UTC</time></dd>
%   end
% end
</dl>
<p class="formats"><a href="/api/song/{{song['id']}}">This song as JSON</a></p>
</section>
<section class="form" aria-labelledby="edit-heading">
<h2 id="edit-heading">Edit</h2>
% if get('conflict'):
<div class="error" role="alert">
  <p>Someone changed this song after you opened it, so your changes were not saved. The form below shows the song as it is now.</p>
  <table class="conflict">
    <caption>Your changes, and the song as it is now</caption>
    <thead><tr><th scope="col">Field</th><th scope="col">Your change</th><th scope="col">Now</th></tr></thead>
    <tbody>
%   for f in fields:
%     if f.writable:
      <tr{{!' class="differs"' if f.name in conflict and conflict[f.name] != str(song[f.name]) else ''}}><th scope="row">{{f.label}}</th><td>{{conflict.get(f.name, '(unchanged)')}}</td><td>{{song[f.name]}}</td></tr>
%     end
%   end
    </tbody>
  </table>
  <form method="post" action="/songs/{{song['id']}}" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf()}}">
    <input type="hidden" name="etag" value="{{etag}}">
    <input type="hidden" name="back" value="{{get('back') or ''}}">
%   for f in fields:
%     if f.writable:
    <input type="hidden" name="{{f.name}}" value="{{merged[f.name]}}">
    <input type="hidden" name="was-{{f.name}}" value="{{song[f.name]}}">
%     end
%   end
    <button type="submit">Apply my changes to the current version</button>
  </form>
</div>
% elif errors:
<p class="error" role="alert">Your changes were not saved: correct what is marked below.</p>
% end
<form method="post" action="/songs/{{song['id']}}" class="song">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
  <input type="hidden" name="etag" value="{{etag}}">
  <input type="hidden" name="back" value="{{get('back') or ''}}">
% for f in fields:
%   if f.writable:
  <input type="hidden" name="was-{{f.name}}" value="{{song[f.name]}}">
%   end
% end
% include('song_fields')
  <button type="submit">Save changes</button>
</form>
<p><a class="danger" href="/songs/{{song['id']}}/delete">Delete this song…</a></p>
</section>
</div>
% if get('history'):
<h2>History</h2>
<ol class="history" reversed>
%   for n, entry in enumerate(history):
  <li value="{{entry['version']}}"><p><strong>{{entry['op'].capitalize()}}d</strong> by {{entry['actor']}}, <time datetime="{{entry['at']}}">{{entry['at'][:16].replace('T', ' ')}} UTC</time>{{':' if entry['changed'] else '.'}}
%     if entry['changed']:
  {{'; '.join(f'{label.lower()} “{before}” → “{after}”' for label, before, after in entry['changed'])}}.
%     end
  </p>
%     if n:
  <form method="post" action="/songs/{{song['id']}}/restore" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf()}}">
    <input type="hidden" name="etag" value="{{etag}}">
    <input type="hidden" name="version" value="{{entry['version']}}">
    <button type="submit">Restore version {{entry['version']}}</button>
  </form>
%     end
  </li>
%   end
</ol>
% end
