% rebase('base', title=song['title'])
<h1>{{song['title']}}</h1>
<dl class="song">
% for field in fields:
%   value = song[field.name]
%   if field.kind == "integer":
  <dt>{{field.label}}</dt><dd>{{value}} of {{field.high}}</dd>
%   elif field.kind == "time":
  <dt>{{field.label}}</dt><dd><time datetime="{{value}}">{{value[:16].replace('T', ' ')}} UTC</time></dd>
%   elif field.kind == "text" and field.name != "title":
  <dt>{{field.label}}</dt><dd>{{value}}</dd>
%   end
% end
</dl>
<p class="formats"><a href="/api/song/{{song['id']}}">This song as JSON</a></p>
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
<h2>Edit</h2>
% if get('conflict'):
<div class="error" role="alert">
  <p>Someone changed this song after you opened it, so your changes were not saved. The form now shows the song as it is; make your changes again.</p>
  <p>You had sent: {{', '.join(f"{f.name} “{conflict.get(f.name, '')}”" if f.kind == "text" else f"{f.name} {conflict.get(f.name, '')}" for f in fields if f.writable)}}.</p>
</div>
% elif errors:
<p class="error" role="alert">Your changes were not saved: correct what is marked below.</p>
% end
<form method="post" action="/songs/{{song['id']}}" class="song">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
  <input type="hidden" name="etag" value="{{etag}}">
% include('song_fields')
  <button type="submit">Save changes</button>
</form>
<p><a class="danger" href="/songs/{{song['id']}}/delete">Delete this song…</a></p>
