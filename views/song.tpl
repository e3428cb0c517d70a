% rebase('base', title=song['title'])
<h1>{{song['title']}}</h1>
<dl class="song">
  <dt>Artist</dt><dd>{{song['artist']}}</dd>
  <dt>Rating</dt><dd>{{song['rating']}} of 5</dd>
  <dt>Added</dt><dd><time datetime="{{song['created_at']}}">{{song['created_at'][:16].replace('T', ' ')}} UTC</time></dd>
  <dt>Last change</dt><dd><time datetime="{{song['updated_at']}}">{{song['updated_at'][:16].replace('T', ' ')}} UTC</time></dd>
</dl>
<p class="formats"><a href="/api/song/{{song['id']}}">This song as JSON</a></p>
<h2>Edit</h2>
% if conflict:
<div class="error" role="alert">
  <p>Someone changed this song after you opened it, so your changes were not saved. The form now shows the song as it is; make your changes again.</p>
  <p>You had sent: artist “{{conflict.get('artist', '')}}”, title “{{conflict.get('title', '')}}”, rating {{conflict.get('rating', '')}}.</p>
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
